// The one way a model file is hashed: by the fetcher to check its pin, by the service for the model's identity.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Streams `file` into `hash` (a fresh sha256 by default) in 1 MiB chunks; the caller digests it. */
export async function sha256File(file: string, hash: Hash = createHash('sha256')): Promise<Hash> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash;
}

/** The hex sha256 of `file`. */
export async function sha256OfFile(file: string): Promise<string> {
  return (await sha256File(file)).digest('hex');
}
