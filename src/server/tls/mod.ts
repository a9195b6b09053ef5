/**
 * TLS for client and peer connections: certificate files read and checked (`material.ts`),
 * self-signed certificates for auto-TLS (`autotls.ts`), and reloading when files change
 * (`source.ts`). See docs/security.md.
 */
export { type AutoTlsFiles, autoTlsValidDays, selfSignedCertificate } from "./autotls.js";
export {
  checkCipherSuites,
  commonNameOf,
  contextOptions,
  loadTlsMaterial,
  protocolOptions,
  type TlsFiles,
  type TlsMaterial,
  type TlsProtocolSettings,
} from "./material.js";
export { certificateCommonName, TlsSource, type TlsSourceOptions, tlsReloadPollMsDefault } from "./source.js";
