/**
 * @kubernetes/client-node, which the Kubernetes client loads on first use. In the shipped extension and
 * CLI this is a bundle of its own (`dist/kubernetes-client.js`, ~3.5 MB, ~450 ms to compile), read only
 * when a cluster is first reached.
 */
export * from '@kubernetes/client-node';
