/** The routes of the Frigate simulator, in one table the conformance test reads. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { FrigateSimulator } from './frigateSim';
import { safeName, sendJson, sendText } from './frigateSimHttp';

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  request: IncomingMessage;
  body: Buffer;
  response: ServerResponse;
  truncate: boolean;
}

export interface FrigateSimRoute {
  method: 'GET' | 'POST' | 'PUT';
  /** The path as Frigate's OpenAPI file writes it (relative to `/api`), or the nginx path of a static file. */
  path: string;
  /** Served by FastAPI under `/api` (in the OpenAPI file), or by nginx as a static file (not in it). */
  api: boolean;
  /** Query parameters the handler reads. */
  query?: readonly string[];
  /** Answers 400 "Face recognition is not enabled." when it is off. */
  faceWrite?: boolean;
  handle(sim: FrigateSimulator, context: RouteContext): Promise<void> | void;
}

/** Every route the simulator serves; the conformance test holds each one against the OpenAPI files. */
export const FRIGATE_SIM_ROUTES: readonly FrigateSimRoute[] = [
  { method: 'GET', path: '/version', api: true, handle: (sim, { response }) => sendText(response, 200, sim.version) },
  { method: 'POST', path: '/login', api: true, handle: (sim, { body, response }) => sim.login(body, response) },
  { method: 'GET', path: '/faces', api: true, handle: async (sim, { response }) => sendJson(response, 200, await sim.listFaces()) },
  { method: 'POST', path: '/faces/{name}/create', api: true, faceWrite: true, handle: (sim, { params, response }) => sim.createFace(params.name ?? '', response) },
  { method: 'POST', path: '/faces/{name}/register', api: true, faceWrite: true, handle: (sim, { params, request, body, response }) => sim.register(params.name ?? '', request, body, response) },
  { method: 'POST', path: '/faces/{name}/delete', api: true, faceWrite: true, handle: (sim, { params, body, response }) => sim.deleteFaces(params.name ?? '', body, response) },
  { method: 'PUT', path: '/faces/{old_name}/rename', api: true, faceWrite: true, handle: (sim, { params, body, response }) => sim.renameFace(params.old_name ?? '', body, response) },
  {
    method: 'GET',
    path: '/events',
    api: true,
    query: ['camera', 'cameras', 'label', 'labels', 'after', 'before', 'has_snapshot', 'limit', 'sort'],
    handle: (sim, { query, response }) => sendJson(response, 200, sim.listEvents(query)),
  },
  {
    method: 'GET',
    path: '/events/{event_id}/snapshot.jpg',
    api: true,
    query: ['download'],
    handle: (sim, { params, query, response }) => sim.sendSnapshot(params.event_id ?? '', query.get('download') === 'true', response),
  },
  {
    method: 'GET',
    path: '/clips/faces/{name}/{file}',
    api: false,
    handle: (sim, { params, response, truncate }) => sim.sendFile(response, join(sim.facesDir, safeName(params.name), safeName(params.file)), truncate),
  },
];

export function routePattern(route: FrigateSimRoute): RegExp {
  const escaped = route.path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '([^/]+)');
  return new RegExp(`^${route.api ? '/api' : ''}${escaped}$`);
}
