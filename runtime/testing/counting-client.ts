import type { KubernetesObject } from "@kubernetes/client-node";
import {
  KubeClient,
  type ListOptions,
  type ListResult,
  type PatchOptions,
  type RequestOptions,
  type WatchEvent,
  type WatchOptions,
} from "../kube-client.js";
import type { ObjectKey, ResourceKind } from "../resource-kind.js";

/** A real KubeClient that counts the requests it sends, so tests can assert how many writes happened. */
export class CountingClient extends KubeClient {
  /** Number of LIST requests (one per page). */
  lists = 0;
  /** The kind of every LIST request (one per page) and of every WATCH request, oldest first. */
  readonly listedKinds: string[] = [];
  readonly watchedKinds: string[] = [];
  /** Number of PATCH requests, in total and per subresource ("" for the object itself). */
  patches = 0;
  readonly patchesBySubresource = new Map<string, number>();
  /** Number of POST (create) requests. */
  creates = 0;
  /** Every request sent (not watches), as "METHOD path", oldest first. */
  readonly requests: string[] = [];

  override request<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
    this.requests.push(`${method} ${path}`);
    return super.request<T>(method, path, options);
  }

  override list<T extends KubernetesObject>(kind: ResourceKind, options?: ListOptions): Promise<ListResult<T>> {
    this.lists++;
    this.listedKinds.push(kind.kind);
    return super.list<T>(kind, options);
  }

  override watch(kind: ResourceKind, options: WatchOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
    this.watchedKinds.push(kind.kind);
    return super.watch(kind, options, onEvent);
  }

  override patch<T extends KubernetesObject>(
    kind: ResourceKind,
    key: ObjectKey,
    patch: unknown,
    options?: PatchOptions,
  ): Promise<T> {
    this.patches++;
    const sub = options?.subresource ?? "";
    this.patchesBySubresource.set(sub, (this.patchesBySubresource.get(sub) ?? 0) + 1);
    return super.patch<T>(kind, key, patch, options);
  }

  override create<T extends KubernetesObject>(
    kind: ResourceKind,
    obj: T,
    options?: { fieldManager?: string },
  ): Promise<T> {
    this.creates++;
    return super.create<T>(kind, obj, options);
  }
}
