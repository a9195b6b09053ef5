/**
 * Posting a JSON request to another member's client URL (lease requests a follower forwards to
 * the leader). `http://` URLs use fetch; `https://` URLs use this member's client certificate
 * (`--cert-file`), as etcd's gateway does, so a cluster with `--client-cert-auth` accepts them.
 */
import https from "node:https";
import type { SecureContext } from "node:tls";

/** This member's client certificate for forwarding to `https://` client URLs. */
export interface ForwardTls {
  /** The context to dial with: this member's certificate and key, and the trusted CAs. */
  clientContext(): SecureContext;
  /**
   * Whether the leader's certificate is checked against the trusted CAs: true when a CA file is
   * given. Without one (a self-signed `--auto-tls` certificate) the URL, taken from the cluster's
   * own membership, is trusted as etcd trusts auto-TLS peers.
   */
  readonly verify: boolean;
}

/** Keep-alive agents, one per secure context (a reloaded certificate gets a new agent). */
const agents = new WeakMap<SecureContext, https.Agent>();

function agentFor(context: SecureContext, verify: boolean): https.Agent {
  let agent = agents.get(context);
  if (agent === undefined) {
    agent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      secureContext: context,
      rejectUnauthorized: verify,
    });
    agents.set(context, agent);
  }
  return agent;
}

/**
 * POSTs `body` (JSON text) to `url` and resolves with the response text; rejects on a network
 * or TLS failure or after `timeoutMs`. An `https://` URL needs `tls` (else it rejects).
 */
export async function postJson(
  url: URL,
  body: string,
  tls: ForwardTls | null,
  timeoutMs: number,
): Promise<string> {
  if (url.protocol === "http:") {
    const res = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    return res.text();
  }
  if (tls === null)
    throw new Error(`cannot forward to ${url.origin}: this member has no client certificate (--cert-file)`);
  const context = tls.clientContext();
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        agent: agentFor(context, tls.verify),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}
