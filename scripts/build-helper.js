#!/usr/bin/env node
// Builds dist/helper/: the program that runs on each hypervisor. One bundled helper.js
// (esbuild), the koffi FFI addon it loads (only what x86_64/arm64 Linux needs), and the
// BPF objects. The transport deploys the directory by its content hash.
const esbuild = require("esbuild");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const out = path.join(root, "dist", "helper");

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

esbuild.buildSync({
  entryPoints: [path.join(root, "provider", "helper", "main.ts")],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  // koffi loads a native addon from a path relative to its own index.js: ship it as a
  // package next to the bundle instead of inlining it.
  external: ["koffi"],
  outfile: path.join(out, "helper.js"),
  logLevel: "warning",
});

const koffiSrc = path.join(root, "node_modules", "koffi");
const koffiOut = path.join(out, "node_modules", "koffi");
for (const f of ["package.json", "index.js", "indirect.js", "LICENSE.txt"]) {
  fs.mkdirSync(koffiOut, { recursive: true });
  fs.copyFileSync(path.join(koffiSrc, f), path.join(koffiOut, f));
}
for (const triplet of ["linux_x64", "linux_arm64"]) {
  const src = path.join(koffiSrc, "build", "koffi", triplet, "koffi.node");
  const dst = path.join(koffiOut, "build", "koffi", triplet, "koffi.node");
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.copyFileSync(src, dst);
}

const bpfSrc = path.join(root, "dist", "bpf");
const bpfOut = path.join(out, "bpf");
fs.mkdirSync(bpfOut, { recursive: true });
for (const f of fs.readdirSync(bpfSrc).filter((f) => f.endsWith(".o"))) {
  fs.copyFileSync(path.join(bpfSrc, f), path.join(bpfOut, f));
}

const { bundleHash } = require(path.join(root, "dist", "provider", "common", "bundle-hash.js"));
console.log(`helper bundle: ${path.relative(root, out)} (${bundleHash(out).slice(0, 12)})`);
