/**
 * The parts of @kubernetes/client-node that Lifeboat uses, which the Kubernetes client loads on first
 * use. In the shipped extension and CLI this is a bundle of its own (`dist/kubernetes-client.js`),
 * read only when a cluster is first reached. Named, not `export *`: the generated API has a client and
 * models for every resource of Kubernetes, which would triple the bundle and the time to compile it.
 */
export { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, Exec, KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
