import type { Browser } from '../../core/browse/model';
import { joinPath, type DeclaredNode } from '../../core/browse/node';
import type { EndpointEntry } from '../../core/inventory/schema';
import { markdownEscape } from '../../core/render';

export const ENDPOINTS_ROOT = 'endpoints';

/** How an endpoint's certificate is trusted, as the tree says it; an opt-out of verification is a warning. */
function trustOf(entry: EndpointEntry): string {
  if (!entry.url.startsWith('https:')) return 'plain http';
  if (entry.fingerprint) return 'certificate pinned';
  return entry.tls?.insecure ? 'certificate NOT verified (tls.insecure)' : 'certificate verified';
}

function endpointNode(name: string, entry: EndpointEntry): DeclaredNode {
  const expected = [entry.expect].flat().join(' or ');
  const trust = trustOf(entry);
  const insecure = entry.url.startsWith('https:') && !entry.fingerprint && entry.tls?.insecure === true;
  return {
    path: joinPath(ENDPOINTS_ROOT, name),
    kind: 'endpoint',
    label: name,
    description: `${entry.url} · expects ${expected}`,
    tooltip: `**Endpoint ${markdownEscape(name)}**\n\n- ${markdownEscape(entry.url)}\n- healthy when it answers ${expected} within ${entry.timeoutSeconds} s\n- ${trust}`,
    icon: insecure ? 'warning' : 'globe',
    ...(insecure ? { status: { level: 'warning' as const, reason: 'its certificate is not verified (tls.insecure)' } } : {}),
    hasChildren: false,
    operations: [{ kind: 'action', id: 'check', label: 'Check', action: 'http.check', params: { endpoints: [name] } }],
    facts: { name, url: entry.url, expect: [entry.expect].flat().map(String), trust },
  };
}

/** The endpoints of `endpoints:`, each checked on demand; read from the inventory alone. */
export const endpointsBrowser: Browser = {
  root: ENDPOINTS_ROOT,
  roots: (session) => Object.entries(session.ctx.inventory.endpoints ?? {}).map(([name, entry]) => endpointNode(name, entry)),
  children: async () => ({ nodes: [] }),
};
