import * as z from 'zod';
import { inventorySchema } from './schema';

/**
 * The JSON Schema of `lifeboat.yaml`, generated from the same zod schema the CLI and the extension
 * validate with, so the editor's completion and the runner never disagree. Written to
 * `dist/lifeboat.schema.json` at build time and contributed through `yamlValidation`.
 */
export function inventoryJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(inventorySchema, { io: 'input', target: 'draft-7' }),
    title: 'Lifeboat inventory (lifeboat.yaml)',
  };
}
