import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { markdownTable } from '../../core/render';
import { frigateClientFor, frigateEntry, frigateInstanceParam } from './target';

const frigateFacesListParams = z.object({ frigate: frigateInstanceParam }).strict();

export interface FacesListResult {
  frigate: string;
  people: { name: string; images: number }[];
  /** Images of all people; the `train` folder is not a person and is not counted here. */
  images: number;
  /** Recent recognition attempts in the `train` folder. */
  train: number;
}

export const frigateFacesList = defineAction({
  id: 'frigate.faces.list',
  title: 'List Frigate faces',
  description: "Lists the people of a Frigate face library with their image counts; the `train` folder (recent recognition attempts) is shown apart.",
  params: frigateFacesListParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const entry = frigateEntry(ctx, params.frigate);
    return { summary: `List the faces of Frigate '${params.frigate}'`, operations: [{ kind: 'read', target: `${entry.url}/api/faces` }], destructive: false };
  },
  async run(params, ctx): Promise<FacesListResult> {
    const client = await frigateClientFor(ctx, params.frigate);
    const library = await client.faces(ctx.signal);
    const people = Object.entries(library.people)
      .map(([name, files]) => ({ name, images: files.length }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { frigate: params.frigate, people, images: people.reduce((sum, person) => sum + person.images, 0), train: library.train.length };
  },
  render(result: FacesListResult) {
    if (result.people.length === 0) return `Frigate '${result.frigate}' has no people in its face library (${result.train} images in train).`;
    const table = markdownTable(['Person', 'Images'], [...result.people.map((person) => [person.name, person.images]), ['**Total**', result.images]]);
    return `${table}\n\nNot counted: ${result.train} recent recognition attempt(s) in \`train\`.`;
  },
});
