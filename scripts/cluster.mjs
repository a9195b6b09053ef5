// `npm run cluster`: three Synod members on this machine (client ports 2379 / 22379 / 32379,
// peer ports 2380 / 22380 / 32380, data in ./data/infra1..3), logs prefixed with the member name.
// Ctrl-C stops all three.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const members = [
  { name: "infra1", client: 2379, peer: 2380 },
  { name: "infra2", client: 22379, peer: 22380 },
  { name: "infra3", client: 32379, peer: 32380 },
];
const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
const children = members.map((m) => {
  const child = spawn(
    process.execPath,
    [
      "dist/src/cli/main.js",
      `--name=${m.name}`,
      `--data-dir=data/${m.name}`,
      `--listen-client-urls=http://127.0.0.1:${m.client}`,
      `--advertise-client-urls=http://127.0.0.1:${m.client}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
      `--initial-cluster=${cluster}`,
      "--initial-cluster-token=synod-local-cluster",
      "--initial-cluster-state=new",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) =>
      process.stdout.write(`${m.name.padEnd(7)}| ${line}\n`),
    );
  }
  child.on("exit", (code, signal) =>
    process.stdout.write(`${m.name.padEnd(7)}| exited (${signal ?? code})\n`),
  );
  return child;
});
const stop = () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
