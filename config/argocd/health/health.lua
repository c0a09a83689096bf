-- Argo CD health check for Kompost's kinds (PostgresInstance,
-- PostgresClusterInstance, PostgresDatabase); Argo CD sets `obj` to the live
-- resource. Healthy: Ready is True for the current generation. Progressing:
-- the operator has not seen this generation yet, is still working (Reconciling
-- True), or the resource is being deleted. Degraded: Stalled True (or, in a
-- status written without Stalled and Reconciling, Ready False), with its message.
local hs = {}

local function readyCondition(status)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

local function trueCondition(status, type)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == type and condition.status == "True" then
      return condition
    end
  end
  return nil
end

local function withMessage(text, condition)
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return text .. ": " .. condition.message
  end
  return text
end

local generation = obj.metadata.generation
local status = obj.status
local ready = readyCondition(status)

-- A finalizer may be waiting (databases still using an instance, an
-- unreachable server); the Ready message says why.
if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = withMessage("Being deleted", ready)
  return hs
end

local observed = nil
if status ~= nil then
  observed = status.observedGeneration
end
if observed == nil or (generation ~= nil and observed < generation) or ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation or 1)
  return hs
end

-- A Ready condition written for an older generation is stale as well.
if ready.observedGeneration ~= nil and generation ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = withMessage("Ready", ready)
  return hs
end

-- kstatus's conditions, as Flux reads them: Stalled needs a user's change,
-- Reconciling means the operator is still working on it (waiting, retrying).
local stalled = trueCondition(status, "Stalled")
if stalled ~= nil then
  hs.status = "Degraded"
  hs.message = withMessage(stalled.reason or "Stalled", stalled)
  return hs
end
local reconciling = trueCondition(status, "Reconciling")
if reconciling ~= nil then
  hs.status = "Progressing"
  hs.message = withMessage("Reconciling", reconciling)
  return hs
end

-- Written before Kompost set Stalled and Reconciling: "Reconciling" is what
-- Ready says while another condition is not known yet.
if ready.status == "False" and ready.reason ~= "Reconciling" then
  hs.status = "Degraded"
  hs.message = withMessage(ready.reason or "Not ready", ready)
  return hs
end

hs.status = "Progressing"
hs.message = withMessage("Reconciling", ready)
return hs
