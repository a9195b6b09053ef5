/**
 * The identity a verified client certificate gives a connection: its subject common name, which
 * etcd uses as the user name when client certificate auth is on and the request carries no
 * token. The listener records it per connection (a TLS socket, the stream wrapping it, or the
 * HTTP/2 session over it); handlers read it from `CallContext.peerCommonName`.
 */

/** What a verified client certificate says about the client. */
export interface ClientIdentity {
  /** The certificate's subject CN; may be "" (a certificate without a CN gives no user name). */
  readonly commonName: string;
}

const identities = new WeakMap<object, ClientIdentity>();

/** Records the verified identity of a connection (a socket, stream or HTTP/2 session). */
export function setConnectionIdentity(connection: object, identity: ClientIdentity): void {
  identities.set(connection, identity);
}

/** The verified identity recorded for `connection`, if any. */
export function connectionIdentity(connection: object | null | undefined): ClientIdentity | undefined {
  return connection === null || connection === undefined ? undefined : identities.get(connection);
}

/**
 * `{ peerCommonName }` for a {@link CallContext} when `connection` has a verified certificate
 * with a non-empty CN, else `{}` (the field is left out, as `exactOptionalPropertyTypes` wants).
 */
export function identityFields(connection: object | null | undefined): { readonly peerCommonName?: string } {
  const cn = connectionIdentity(connection)?.commonName;
  return cn === undefined || cn === "" ? {} : { peerCommonName: cn };
}
