/**
 * Password hashing for etcd's users: scrypt (node's `crypto.scrypt`, run on the libuv thread pool
 * so the event loop keeps serving) with a random 16-byte salt. etcd uses bcrypt with
 * `--bcrypt-cost` (default 10); Synod keeps the flag and maps it to scrypt's work factor
 * `N = 2^(cost + 5)` with r = 8, p = 1, so the default cost 10 gives N = 2^15 (32 MiB, about
 * 50–100 ms per hash on a laptop core, like bcrypt at cost 10). The exponent is capped at
 * {@link scryptLogNMax} to bound memory.
 *
 * Hashes are computed by the API layer before a command is proposed (the state machine stores
 * them as opaque strings), in the form `$scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>`; each
 * hash carries its own parameters, so members with different costs verify each other's hashes.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
/** Largest scrypt exponent used (2^18 × 1 KiB = 256 MiB of memory per hash). */
export const scryptLogNMax = 18;
/** Largest parameters accepted from a stored hash (guards memory and time on verify). */
const verifyLogNMax = 20;
const verifyRMax = 16;
const verifyPMax = 4;
const saltBytes = 16;
const keyBytes = 32;

/** The scrypt exponent for an etcd bcrypt cost (see the file comment). */
export function scryptLogNOf(bcryptCost: number): number {
  return Math.min(bcryptCost + 5, scryptLogNMax);
}

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => {
      if (err !== null) reject(err);
      else resolve(key);
    });
  });
}

/** Hashes `password` with scrypt at exponent `logN`. */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(saltBytes);
  const key = await derive(password, salt, logN, 8, 1);
  return `$scrypt$ln=${logN},r=8,p=1$${salt.toString("base64")}$${key.toString("base64")}`;
}

const hashShape = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/**
 * Whether `password` matches `hash` (constant-time comparison). A malformed hash, or one whose
 * parameters are out of bounds, never matches.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = hashShape.exec(hash);
  if (m === null) return false;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 1 || logN > verifyLogNMax || r < 1 || r > verifyRMax || p < 1 || p > verifyPMax) return false;
  const expected = Buffer.from(m[5] ?? "", "base64");
  if (expected.length !== keyBytes) return false;
  const key = await derive(password, Buffer.from(m[4] ?? "", "base64"), logN, r, p);
  return timingSafeEqual(key, expected);
}
