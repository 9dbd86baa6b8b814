// What every VM-lab end-to-end file sets up: one VM lab host and a temp copy of an example
// with the packed package installed; the stacks the file made are dropped at the end,
// passing or failing, before the lab goes.
import { ExampleProject } from "../../e2e/support/project";
import { safeName, vmLabUp, VmLab, VMLAB_UP_TIMEOUT_MS } from "./vm-lab";

export interface VmExampleSuite {
  lab: VmLab;
  project: ExampleProject;
  /** The host's uplink, checked to be safe in a shell command line. */
  nic: string;
  /** Stacks to drop after the file. */
  stacks: string[];
}

export function vmExampleSuite(example: string): VmExampleSuite {
  const suite = { stacks: [] as string[] } as VmExampleSuite;
  let project: ExampleProject | undefined;
  let lab: VmLab | undefined;
  const savedHello = process.env.HVNET_HELLO_TIMEOUT;

  beforeAll(async () => {
    // Node in a guest under software emulation, on a busy machine, can take longer than
    // the default 20 s to answer hello; the Pulumi CLI hands this to the provider.
    process.env.HVNET_HELLO_TIMEOUT = "120";
    lab = suite.lab = await vmLabUp(1);
    suite.nic = safeName(lab.inventory.hosts[0].uplink);
    project = suite.project = await ExampleProject.create(example);
  }, VMLAB_UP_TIMEOUT_MS);

  afterAll(async () => {
    try {
      const problems: string[] = [];
      for (const s of suite.stacks) problems.push(...((await project?.dropStack(s)) ?? []));
      if (problems.length) console.error(`cleanup: ${problems.join("\n")}`);
    } finally {
      project?.remove();
      await lab?.down();
      if (savedHello === undefined) delete process.env.HVNET_HELLO_TIMEOUT;
      else process.env.HVNET_HELLO_TIMEOUT = savedHello;
    }
  }, 20 * 60_000);

  return suite;
}
