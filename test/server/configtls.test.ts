// Tests of the TLS settings in the configuration: etcd's client and peer certificate flags and
// config-file sections resolved into ServerConfig, the cross-checks that refuse settings which
// cannot work, the warnings for settings that do nothing, and the cipher-suite name mapping.
import assert from "node:assert/strict";
import { test } from "node:test";
import { knownCipherSuites, mapCipherSuites } from "../../src/server/ciphersuites.js";
import { type LoadConfigResult, loadConfig } from "../../src/server/config.js";

function load(argv: string[], fileText?: string): LoadConfigResult {
  const all = fileText === undefined ? argv : ["--config-file=/etc/synod.yml", ...argv];
  return loadConfig(all, {}, (path) => {
    if (path !== "/etc/synod.yml" || fileText === undefined) throw new Error(`ENOENT: ${path}`);
    return fileText;
  });
}

const https = [
  "--listen-client-urls=https://127.0.0.1:2379",
  "--advertise-client-urls=https://127.0.0.1:2379",
  "--listen-peer-urls=https://127.0.0.1:2380",
  "--initial-advertise-peer-urls=https://127.0.0.1:2380",
];

test("loadConfig TLS: etcd's client and peer flags resolve into clientTls and peerTls", () => {
  // Proves every TLS flag lands in the configuration with https:// URLs kept as such.
  const r = load([
    ...https,
    "--cert-file=/c/server.pem",
    "--key-file=/c/server-key.pem",
    "--trusted-ca-file=/c/ca.pem",
    "--client-cert-auth",
    "--client-crl-file=/c/crl.pem",
    "--client-cert-allowed-hostname=client.example",
    "--peer-cert-file=/c/peer.pem",
    "--peer-key-file=/c/peer-key.pem",
    "--peer-trusted-ca-file=/c/peer-ca.pem",
    "--peer-client-cert-auth",
    "--peer-crl-file=/c/peer-crl.pem",
    "--peer-cert-allowed-cn=member",
    "--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
    "--tls-min-version=TLS1.2",
    "--tls-max-version=TLS1.3",
  ]);
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual(r.warnings, []);
  const c = r.config;
  assert.equal(c.listenClientUrls[0]?.href, "https://127.0.0.1:2379");
  assert.equal(c.initialCluster[0]?.peerUrls[0]?.scheme, "https");
  assert.deepEqual(c.clientTls, {
    side: "client",
    certFile: "/c/server.pem",
    keyFile: "/c/server-key.pem",
    trustedCaFile: "/c/ca.pem",
    clientCertAuth: true,
    crlFile: "/c/crl.pem",
    autoTls: false,
    allowedCn: "",
    allowedHostname: "client.example",
  });
  assert.deepEqual(c.peerTls, {
    side: "peer",
    certFile: "/c/peer.pem",
    keyFile: "/c/peer-key.pem",
    trustedCaFile: "/c/peer-ca.pem",
    clientCertAuth: true,
    crlFile: "/c/peer-crl.pem",
    autoTls: false,
    allowedCn: "member",
    allowedHostname: "",
  });
  assert.deepEqual(c.cipherSuites, ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"]);
  assert.equal(c.tlsMinVersion, "TLSv1.2");
  assert.equal(c.tlsMaxVersion, "TLSv1.3");
});

test("loadConfig TLS: etcd's client-transport-security and peer-transport-security sections set the flags", () => {
  // Proves an etcd.conf.yml with TLS sections configures TLS, naming section keys in messages.
  const yaml = `
listen-client-urls: https://127.0.0.1:2379
advertise-client-urls: https://127.0.0.1:2379
client-transport-security:
  cert-file: /c/server.pem
  key-file: /c/server-key.pem
  client-cert-auth: true
  trusted-ca-file: /c/ca.pem
  auto-tls: false
peer-transport-security:
  auto-tls: true
  allowed-cn: member
`;
  const r = load([], yaml);
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.equal(r.config.clientTls.certFile, "/c/server.pem");
  assert.equal(r.config.clientTls.clientCertAuth, true);
  assert.equal(r.config.peerTls.autoTls, true);
  assert.equal(r.config.peerTls.allowedCn, "member");
  const bad = load([], "client-transport-security:\n  cert-fil: /x\n");
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.match(
      bad.error,
      /Unknown key 'client-transport-security\.cert-fil' in config file '\/etc\/synod\.yml'/,
    );
  }
  const twice = load([], "cert-file: /a\nclient-transport-security:\n  cert-file: /b\n");
  assert.equal(twice.ok, false);
  if (!twice.ok) assert.match(twice.error, /sets --cert-file twice/);
  const label = load([], "client-transport-security:\n  client-cert-auth: maybe\n");
  assert.equal(label.ok, false);
  if (!label.ok) {
    assert.match(
      label.error,
      /'client-transport-security\.client-cert-auth' in config file .* must be true or false/,
    );
  }
});

test("loadConfig TLS: settings that cannot work are refused, naming the settings", () => {
  // Proves each cross-check: https without a certificate, half a pair, auth without a CA, etc.
  const cases: [string[], RegExp][] = [
    [
      https.slice(0, 2),
      /--listen-client-urls has https:\/\/127\.0\.0\.1:2379, which needs a certificate: set --cert-file and --key-file, or --auto-tls/,
    ],
    [
      ["--listen-peer-urls=https://127.0.0.1:2380", "--initial-advertise-peer-urls=https://127.0.0.1:2380"],
      /--listen-peer-urls has https:\/\/127\.0\.0\.1:2380, which needs a certificate: set --peer-cert-file and --peer-key-file, or --peer-auto-tls/,
    ],
    [["--cert-file=/c.pem"], /--cert-file is set but --key-file is not: a certificate needs its key/],
    [["--peer-key-file=/k.pem"], /--peer-key-file is set but --peer-cert-file is not/],
    [
      [...https.slice(0, 2), "--auto-tls", "--client-cert-auth"],
      /--client-cert-auth needs --trusted-ca-file: the CA bundle that signs the certificates to accept/,
    ],
    [["--peer-client-cert-auth", "--peer-auto-tls"], /--peer-client-cert-auth needs --peer-trusted-ca-file/],
    [
      ["--peer-cert-allowed-cn=a", "--peer-cert-allowed-hostname=b"],
      /--peer-cert-allowed-cn and --peer-cert-allowed-hostname cannot both be set/,
    ],
    [
      ["--cipher-suites=TLS_RSA_WITH_AES_128_GCM_SHA256,ECDHE-RSA-AES128-GCM-SHA256,NOPE"],
      /--cipher-suites has unknown cipher suites 'ECDHE-RSA-AES128-GCM-SHA256', 'NOPE'; use etcd's \(Go's\) names/,
    ],
    [
      ["--tls-min-version=TLSv1.2"],
      /--tls-min-version must be one of TLS1\.0, TLS1\.1, TLS1\.2, TLS1\.3, got 'TLSv1\.2'/,
    ],
    [
      ["--tls-min-version=TLS1.3", "--tls-max-version=TLS1.2"],
      /--tls-min-version \('TLS1\.3'\) must not be above --tls-max-version \('TLS1\.2'\)/,
    ],
    [
      ["--tls-min-version=TLS1.3", "--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
      /--cipher-suites lists TLS 1\.2 suites, but --tls-min-version allows only TLS 1\.3/,
    ],
  ];
  for (const [argv, want] of cases) {
    const r = load(argv);
    assert.equal(r.ok, false, argv.join(" "));
    if (!r.ok) assert.match(r.error, want, argv.join(" "));
  }
});

test("loadConfig TLS: settings that would do nothing draw one warning each", () => {
  // Proves etcd's warnings: certificates with only http:// client URLs, auth without TLS, a
  // client CRL without client certificate auth, auto-TLS next to given certificates.
  const r = load([
    "--cert-file=/c.pem",
    "--key-file=/k.pem",
    "--client-crl-file=/crl.pem",
    "--peer-client-cert-auth",
    "--peer-trusted-ca-file=/ca.pem",
    "--auto-tls",
  ]);
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual(r.warnings, [
    "--auto-tls is ignored: --cert-file and --key-file are given (as in etcd)",
    "--cert-file is set but no --listen-client-urls URL is https://; clients are served without TLS",
    "--client-crl-file has no effect without --client-cert-auth (no certificate is asked for)",
    "--peer-client-cert-auth has no effect: no --listen-peer-urls URL is https://",
  ]);
  assert.equal(r.config.clientTls.autoTls, false);
});

test("mapCipherSuites: etcd's Go names map to OpenSSL's in order, duplicates once, unknown names listed", () => {
  // Proves the --cipher-suites translation table.
  assert.deepEqual(
    mapCipherSuites([
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_CHACHA20_POLY1305_SHA256",
    ]),
    {
      ok: true,
      openssl: ["ECDHE-ECDSA-CHACHA20-POLY1305", "AES256-GCM-SHA384", "TLS_CHACHA20_POLY1305_SHA256"],
    },
  );
  assert.deepEqual(mapCipherSuites(["x", "TLS_RSA_WITH_AES_128_CBC_SHA", "y"]), {
    ok: false,
    unknown: ["x", "y"],
  });
  assert.ok(knownCipherSuites.includes("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
  assert.equal(new Set(knownCipherSuites).size, knownCipherSuites.length);
});
