/** Sample event files, kept by SAM convention in `events/` beside the template. */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * The `*.json` files in the `events` directory beside `templateFile`, sorted
 * by name, as absolute paths. An absent directory means no files.
 */
export async function listEventFiles(templateFile: string): Promise<string[]> {
  const directory = path.join(path.dirname(templateFile), 'events');
  try {
    const entries = await readdir(directory, { withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.json'))
      .map((entry) => path.join(directory, entry.name))
      .sort();
  } catch {
    return [];
  }
}
