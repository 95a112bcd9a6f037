import * as z from 'zod';
import { FrigateClient } from '../../clients/frigate';
import { defineAction } from '../../core/actions/spec';
import { errorMessage, isCancellationError } from '../../core/errors';
import { markdownTable } from '../../core/render';
import { findFrigatePod, frigateClientFor, frigateEntry, frigateInstanceParam, podLocationOf } from './target';

const frigateHealthParams = z.object({ frigate: frigateInstanceParam }).strict();

export interface FrigateHealthCheck {
  check: 'version' | 'auth' | 'faces' | 'pod';
  ok: boolean;
  detail: string;
}

export interface FrigateHealthResult {
  frigate: string;
  url: string;
  version?: string;
  people?: number;
  images?: number;
  pod?: string;
  checks: FrigateHealthCheck[];
}

/** Runs one check; a failure becomes a failed line of the report, so every check is reported. */
async function attempt<Value>(check: FrigateHealthCheck['check'], checks: FrigateHealthCheck[], work: () => Promise<{ value: Value; detail: string }>): Promise<Value | undefined> {
  try {
    const { value, detail } = await work();
    checks.push({ check, ok: true, detail });
    return value;
  } catch (error) {
    if (isCancellationError(error)) throw error;
    checks.push({ check, ok: false, detail: errorMessage(error) });
    return undefined;
  }
}

export const frigateHealth = defineAction({
  id: 'frigate.health',
  title: 'Check Frigate',
  description: 'Checks a Frigate instance: its version, that the login works, that the face library can be read, and that its pod runs when the inventory names one.',
  params: frigateHealthParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const entry = frigateEntry(ctx, params.frigate);
    return { summary: `Check Frigate '${params.frigate}' at ${entry.url}`, operations: [{ kind: 'read', target: entry.url, detail: 'version, login, face library' }], destructive: false };
  },
  async run(params, ctx): Promise<FrigateHealthResult> {
    const entry = frigateEntry(ctx, params.frigate);
    const client = await frigateClientFor(ctx, params.frigate);
    const checks: FrigateHealthCheck[] = [];
    const version = await attempt('version', checks, async () => {
      // The version is public: asked without logging in, it shows Frigate answers even when the login fails.
      const value = await new FrigateClient({ url: entry.url, insecure: entry.tls?.insecure ?? false, name: params.frigate }).version(ctx.signal);
      return { value, detail: value };
    });
    const auth = entry.auth;
    if (auth) {
      await attempt('auth', checks, async () => {
        // A token is only checked by the faces request below; a password login is checked here.
        await client.login(ctx.signal);
        return { value: true, detail: 'username' in auth ? `logged in as ${auth.username}` : 'Bearer token' };
      });
    }
    const library = await attempt('faces', checks, async () => {
      const faces = await client.faces(ctx.signal);
      const images = Object.values(faces.people).reduce((sum, files) => sum + files.length, 0);
      return { value: { people: Object.keys(faces.people).length, images }, detail: `${Object.keys(faces.people).length} people, ${images} images (${faces.train.length} in train)` };
    });
    const location = podLocationOf(entry);
    const pod = location
      ? await attempt('pod', checks, async () => {
          const found = await findFrigatePod(ctx, params.frigate, location);
          return { value: found.pod.name, detail: `${found.pod.namespace}/${found.pod.name} (${found.pod.phase}${found.pod.ready ? ', ready' : ''})` };
        })
      : undefined;
    for (const warning of client.warnings) checks.push({ check: 'auth', ok: true, detail: `warning: ${warning}` });
    const failed = checks.filter((check) => !check.ok);
    if (failed.length > 0) throw new Error(`Frigate '${params.frigate}' is not healthy: ${failed.map((check) => `${check.check}: ${check.detail}`).join('; ')}`);
    return {
      frigate: params.frigate,
      url: entry.url,
      ...(version === undefined ? {} : { version }),
      ...(library === undefined ? {} : library),
      ...(pod === undefined ? {} : { pod }),
      checks,
    };
  },
  render(result: FrigateHealthResult) {
    const table = markdownTable(['Check', 'Result', 'Detail'], result.checks.map((check) => [check.check, check.ok ? 'ok' : 'FAILED', check.detail]));
    return `Frigate '${result.frigate}' (${result.url}) is healthy${result.version ? `, version ${result.version}` : ''}.\n\n${table}`;
  },
});
