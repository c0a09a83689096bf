-- Runs an Argo CD health check the way Argo CD does: the live object in the
-- global `obj`, the script's return value is the health. Lua 5.1, like the
-- gopher-lua inside Argo CD.
--
--   lua5.1 argocd-health.lua SCRIPT < OBJECT
--
-- OBJECT is a Lua chunk returning the object as a table. Prints the status on
-- the first line and the message on the second.
local script = arg[1]
if script == nil then
  io.stderr:write("usage: lua5.1 argocd-health.lua SCRIPT < OBJECT\n")
  os.exit(2)
end

local readObject, objectError = loadstring(io.read("*a"), "=object")
if readObject == nil then
  io.stderr:write("while reading the object: " .. objectError .. "\n")
  os.exit(2)
end
obj = readObject()

local check, scriptError = loadfile(script)
if check == nil then
  io.stderr:write("while loading " .. script .. ": " .. scriptError .. "\n")
  os.exit(2)
end
local hs = check()
io.write(tostring(hs.status), "\n", tostring(hs.message), "\n")
