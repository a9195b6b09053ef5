// Password hashes for etcd's users (src/api/etcd/auth/password.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  hashPassword,
  scryptLogNMax,
  scryptLogNOf,
  verifyPassword,
} from "../../../src/api/etcd/auth/password.js";

test("password: a hash verifies its own password only; each hash is salted", async () => {
  // Proves hashPassword/verifyPassword agree, a wrong password fails, and two hashes differ.
  const a = await hashPassword("s3cret", 4);
  const b = await hashPassword("s3cret", 4);
  assert.match(a, /^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword("s3cret", a), true);
  assert.equal(await verifyPassword("s3cret", b), true);
  assert.equal(await verifyPassword("S3cret", a), false);
  assert.equal(await verifyPassword("", a), false);
});

test("password: malformed hashes and out-of-bounds parameters never match", async () => {
  // Proves the guards on stored hashes: shape, the ln/r/p bounds (memory and time on verify) and
  // the key length are checked before any scrypt work.
  const good = await hashPassword("pw", 4);
  const [, , params, salt, key] = good.split("$");
  assert.equal(params, "ln=4,r=8,p=1");
  const hashWith = (p: string, k = key ?? ""): string => `$scrypt$${p}$${salt}$${k}`;
  assert.equal(await verifyPassword("pw", hashWith("ln=4,r=8,p=1")), true);
  for (const bad of [
    "garbage",
    "",
    hashWith("ln=21,r=8,p=1"),
    hashWith("ln=0,r=8,p=1"),
    hashWith("ln=4,r=17,p=1"),
    hashWith("ln=4,r=0,p=1"),
    hashWith("ln=4,r=8,p=5"),
    hashWith("ln=4,r=8,p=1", Buffer.alloc(31).toString("base64")),
    `$bcrypt$ln=4,r=8,p=1$${salt}$${key}`,
  ]) {
    assert.equal(await verifyPassword("pw", bad), false, bad);
  }
});

test("password: etcd's bcrypt cost maps to scrypt's exponent, capped", () => {
  // Proves N = 2^(cost + 5) up to the cap.
  assert.equal(scryptLogNOf(10), 15);
  assert.equal(scryptLogNOf(4), 9);
  assert.equal(scryptLogNOf(31), scryptLogNMax);
});
