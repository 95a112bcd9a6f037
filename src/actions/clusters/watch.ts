import type { CustomResource, KubeObject } from '../../clients/kube';
import { followObject } from '../../clients/kubeWatch';
import type { DeclaredNode, NodeWatch } from '../../core/browse/node';
import { formatDuration } from '../../core/render';
import { kubeClientFor } from './target';

/**
 * The watch of a node that stands for one object changing by itself until it settles (a running
 * backup): the object followed through the cluster's watch, each state made into the node by `toNode`.
 */
export function objectWatch(cluster: string, resource: CustomResource, namespace: string, name: string, isDone: (object: KubeObject) => boolean, toNode: (object: KubeObject) => DeclaredNode): NodeWatch {
  return async (ctx, onChange) => {
    const client = await kubeClientFor(ctx, cluster);
    await followObject(client, resource, namespace, name, {
      signal: ctx.signal,
      isDone,
      onChange: (object) => onChange(object && toNode(object)),
      onRetry: (error, delayMs) => ctx.log.warn(`following ${resource.kind} ${namespace}/${name}: ${error.message}; watching again in ${formatDuration(delayMs)}`),
    });
  };
}
