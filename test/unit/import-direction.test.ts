// Each layer of DESIGN.md imports only the layers below it and the shared folder; the two
// sides of the SSH boundary meet only in provider/common. A new upward import fails here,
// printed as file:line, what it imports and the rule it breaks.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatViolation, importViolations, LAYERS } from "../support/import-layers";

const ROOT = path.resolve(__dirname, "..", "..");

describe("import direction", () => {
  test("the tree has no import against the layers", () => {
    expect(importViolations(ROOT).map(formatViolation)).toEqual([]);
  });

  test("every layer folder exists (a renamed folder cannot silently drop its rules)", () => {
    for (const layer of LAYERS) expect([layer.dir, fs.existsSync(path.join(ROOT, layer.dir))]).toEqual([layer.dir, true]);
  });

  describe("on a copy with planted imports", () => {
    let copy: string;
    beforeAll(() => {
      copy = fs.mkdtempSync(path.join(os.tmpdir(), "hvnet-imports-"));
      for (const dir of ["cli", "sdk", "provider"]) fs.cpSync(path.join(ROOT, dir), path.join(copy, dir), { recursive: true });
    });
    afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

    const plant = (file: string, line: string) => {
      const abs = path.join(copy, file);
      const before = fs.readFileSync(abs, "utf8");
      fs.writeFileSync(abs, `${line}\n${before}`);
      return () => fs.writeFileSync(abs, before);
    };

    test.each([
      ["the helper importing the provider runtime", "provider/helper/resources/fdb.ts", 'import { sharedPool } from "../../runtime/pool";', "helper may import only helper, kernel, common; not runtime"],
      ["the kernel bindings importing a helper op", "provider/helper/kernel/netns.ts", 'import { applyFdb } from "../resources/fdb";', "kernel may import only kernel, common; not helper"],
      ["the shared folder importing the transport", "provider/common/protocol.ts", 'import type { HostSpec } from "../transport/host-spec";', "common may import only common; not transport"],
      ["a kind descriptor importing a helper op", "provider/kinds/fdb.ts", 'import "../helper/resources/fdb";', "kinds may import only kinds, common; not helper"],
      ["the SDK reaching the pool beside the shim", "sdk/capabilities.ts", 'import { sharedPool } from "../provider/runtime/pool";', "sdk may import only sdk, transport, common; not runtime"],
      ["a helper op reaching into a kernel package's internal/", "provider/helper/resources/netkit.ts", 'import { bpfCall } from "../kernel/bpf/internal/syscall";', "provider/helper/kernel/bpf/internal is private to provider/helper/kernel/bpf"],
    ])("%s is reported", (_what, file, line, rule) => {
      const restore = plant(file, line);
      try {
        const found = importViolations(copy).map(formatViolation);
        expect(found).toHaveLength(1);
        expect(found[0]).toContain(`${file}:1 imports`);
        expect(found[0]).toContain(rule);
      } finally {
        restore();
      }
    });
  });
});
