#!/usr/bin/env node
// `synod`: a drop-in for the etcd binary. Parses etcd's flags (and SYNOD_*/ETCD_* variables and a
// config file), starts one member, and stops gracefully on SIGTERM/SIGINT.
import { readFileSync } from "node:fs";
import { jsonLogger } from "../server/log.js";
import { isAdminInvocation, runAdmin } from "./admin/mod.js";
import { parseCommandLine } from "./flags.js";
import { tuneGarbageCollector } from "./gctuning.js";
import { startServer } from "./serve.js";

const synodVersion = "0.1.0";

async function main(): Promise<number> {
  // `synod status`, `synod snapshot restore ...`: admin commands; anything else serves.
  if (isAdminInvocation(process.argv.slice(2))) {
    return runAdmin(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, process.env);
  }
  const cmd = parseCommandLine(process.argv.slice(2), process.env, (p) => readFileSync(p, "utf8"), {
    synodVersion,
    nodeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
  });
  switch (cmd.kind) {
    case "help":
    case "version":
      process.stdout.write(cmd.text.endsWith("\n") ? cmd.text : `${cmd.text}\n`);
      return 0;
    case "error":
      process.stderr.write(`synod: ${cmd.message}\n`);
      return cmd.exitCode;
    case "serve":
      break;
  }
  const config = cmd.config;
  const logger = jsonLogger(config.logLevel === "error" ? "warn" : config.logLevel, { member: config.name });
  for (const w of cmd.warnings) logger.warn(w);
  const v8Flags = tuneGarbageCollector();
  if (v8Flags !== "") logger.debug("server: V8 garbage-collector flags set", { flags: v8Flags });
  const server = await startServer(config, logger);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info("server: shutting down", { signal });
      server.stop().then(resolve, (e) => {
        logger.warn("server: shutdown failed", { error: String(e) });
        resolve();
      });
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

// Everything was closed in order (or never opened); idle keep-alive sockets of outgoing requests
// (lease forwarding) must not hold the exit back for seconds.
main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`synod: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
