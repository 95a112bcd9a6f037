import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The Badr receptionist's project folder as its backup runbooks find it under `root`: configuration,
 * the face database (`facesBytes` long), and the log and bytecode cache its backups leave out.
 */
export async function writeBadrProject(root: string, facesBytes: number): Promise<void> {
  const project = path.join(root, 'Badr');
  await mkdir(path.join(project, 'config'), { recursive: true });
  await mkdir(path.join(project, '__pycache__'));
  await writeFile(path.join(project, 'config', 'receptionist.yaml'), 'greeting: "Ahlan"\n');
  await writeFile(path.join(project, 'faces.db'), Buffer.alloc(facesBytes, 7));
  await writeFile(path.join(project, '__pycache__', 'main.cpython-311.pyc'), 'bytecode');
  await writeFile(path.join(project, 'receptionist.log'), 'noise\n');
}
