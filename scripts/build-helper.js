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

// The launcher template goes next to the compiled renderer (tsc copies only .ts), and the
// launcher made for this bundle to dist/launcher/: what an operator installs on a host
// for a non-root deploy user.
const launcherSrc = path.join(root, "provider", "transport", "launcher", "hvnet-launch.in");
fs.copyFileSync(launcherSrc, path.join(root, "dist", "provider", "transport", "launcher", "hvnet-launch.in"));
const { loadBundle, launcherScript } = require(path.join(root, "dist", "provider", "transport", "deploy.js"));
const bundle = loadBundle(out);
const launcherOut = path.join(root, "dist", "launcher");
fs.rmSync(launcherOut, { recursive: true, force: true });
fs.mkdirSync(launcherOut, { recursive: true });
fs.writeFileSync(path.join(launcherOut, "hvnet-launch"), launcherScript(bundle), { mode: 0o755 });
console.log(`helper bundle: ${path.relative(root, out)} (${bundle.hash.slice(0, 12)}), launcher: ${path.relative(root, launcherOut)}/hvnet-launch`);
