// `npm run certs -- <folder>`: a throw-away certificate authority and certificates for running
// Synod with TLS on one machine, and for the TLS tests. Uses the `openssl` command (Debian's
// `openssl` package); nothing here is fit for production (keys are unencrypted, the CA key sits
// next to the certificates). See docs/security.md.
//
// Files written to <folder> (each certificate `<name>.pem` with its key `<name>-key.pem`):
//   ca.pem               the CA that signs everything below (CN=synod-test-ca)
//   member.pem           a member certificate (CN=member; SANs 127.0.0.1, ::1, localhost;
//                        serverAuth + clientAuth, so it serves clients and peers and dials peers)
//   member2.pem          a second member certificate, same SANs, CN=member2 (rotation tests)
//   intruder.pem         signed by the CA, same SANs, CN=intruder (for --peer-cert-allowed-cn)
//   root.pem, alice.pem  client certificates (clientAuth) with CN=root and CN=alice
//   revoked.pem          a client certificate (CN=revoked) listed in crl.pem
//   crl.pem              the CA's certificate revocation list (revokes revoked.pem)
//   expired.pem          a member certificate that expired in 2020
//   other-ca.pem         an unrelated CA (CN=synod-other-ca)
//   wrong.pem            CN=member with the member SANs, signed by other-ca (a stranger's certificate)
//   wrong-client.pem     CN=root client certificate signed by other-ca
// Usage: node scripts/certs.mjs <folder> [--days N]   (default folder ./certs, 365 days)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const args = process.argv.slice(2);
let days = 365;
const positional = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--days") days = Number(args[++i]);
  else if (a.startsWith("--days=")) days = Number(a.slice("--days=".length));
  else if (a === "-h" || a === "--help") {
    process.stdout.write("usage: node scripts/certs.mjs <folder> [--days N]\n");
    process.exit(0);
  } else positional.push(a);
}
if (!Number.isInteger(days) || days < 1) {
  process.stderr.write(`certs: --days must be a positive integer, got '${days}'\n`);
  process.exit(2);
}
const out = resolve(positional[0] ?? "certs");
mkdirSync(out, { recursive: true });

function openssl(...argv) {
  try {
    return execFileSync("openssl", argv, { cwd: out, stdio: ["ignore", "pipe", "pipe"] }).toString();
  } catch (e) {
    if (e.code === "ENOENT") {
      process.stderr.write(
        "certs: the 'openssl' command is missing; install it (apt-get install -y openssl)\n",
      );
      process.exit(1);
    }
    process.stderr.write(`certs: openssl ${argv.join(" ")} failed:\n${e.stderr ?? e.message}\n`);
    process.exit(1);
  }
}

const memberSans = "IP:127.0.0.1,IP:::1,DNS:localhost";

// `openssl ca` keeps an index of what it signed, which the CRL is built from.
function caConfig(name) {
  const dir = join(out, `.${name}-db`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), `${Date.now().toString(16).padStart(16, "0")}\n`);
  writeFileSync(join(dir, "crlnumber"), "01\n");
  const cnf = join(dir, "ca.cnf");
  writeFileSync(
    cnf,
    [
      "[ca]",
      "default_ca = synod",
      "[synod]",
      `dir = ${dir}`,
      "database = $dir/index.txt",
      "serial = $dir/serial",
      "crlnumber = $dir/crlnumber",
      "new_certs_dir = $dir",
      `certificate = ${join(out, `${name}.pem`)}`,
      `private_key = ${join(out, `${name}-key.pem`)}`,
      "default_md = sha256",
      "default_crl_days = 3650",
      "policy = anything",
      "unique_subject = no",
      "copy_extensions = none",
      "[anything]",
      "commonName = supplied",
      "organizationName = optional",
      "",
    ].join("\n"),
  );
  return cnf;
}

function makeCa(name, cn) {
  openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    String(days + 1),
    "-subj",
    `/O=synod/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-keyout",
    `${name}-key.pem`,
    "-out",
    `${name}.pem`,
  );
  return caConfig(name);
}

/**
 * A certificate `<name>.pem` (key `<name>-key.pem`) for `cn`, signed by the CA whose `openssl ca`
 * config is `cnf`. `usage` is serverAuth,clientAuth for members and clientAuth for clients.
 */
function makeCert(cnf, name, cn, usage, sans, dates = ["-days", String(days)]) {
  openssl(
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    `/O=synod/CN=${cn}`,
    "-keyout",
    `${name}-key.pem`,
    "-out",
    `${name}.csr`,
  );
  const ext = [
    "[v3]",
    "basicConstraints = critical,CA:FALSE",
    "keyUsage = critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage = ${usage}`,
    ...(sans === null ? [] : [`subjectAltName = ${sans}`]),
    "",
  ].join("\n");
  writeFileSync(join(out, `${name}.ext`), ext);
  openssl(
    "ca",
    "-batch",
    "-notext",
    "-config",
    cnf,
    ...dates,
    "-extfile",
    `${name}.ext`,
    "-extensions",
    "v3",
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.pem`,
  );
  execFileSync("rm", ["-f", join(out, `${name}.csr`), join(out, `${name}.ext`)]);
}

const both = "serverAuth,clientAuth";
const ca = makeCa("ca", "synod-test-ca");
makeCert(ca, "member", "member", both, memberSans);
makeCert(ca, "member2", "member2", both, memberSans);
makeCert(ca, "intruder", "intruder", both, memberSans);
makeCert(ca, "root", "root", "clientAuth", null);
makeCert(ca, "alice", "alice", "clientAuth", null);
makeCert(ca, "revoked", "revoked", "clientAuth", null);
makeCert(ca, "expired", "member", both, memberSans, [
  "-startdate",
  "20190101000000Z",
  "-enddate",
  "20200101000000Z",
]);
openssl("ca", "-batch", "-config", ca, "-revoke", "revoked.pem");
openssl("ca", "-batch", "-config", ca, "-gencrl", "-out", "crl.pem");
const other = makeCa("other-ca", "synod-other-ca");
makeCert(other, "wrong", "member", both, memberSans);
makeCert(other, "wrong-client", "root", "clientAuth", null);
process.stdout.write(`certs: wrote a test CA and certificates to ${out}\n`);
