// What every end-to-end test file sets up and tears down: its own lab, a temp copy of an
// example with the packed package installed, and the stacks its tests make (dropped after
// each test, passing or failing).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { labUp, type Lab } from "../../support/lab";
import { requireCommand, requireRoot } from "../../support/require-root";
import { ExampleProject } from "./project";

export function exampleSuite(example: string, hosts: number, ready: (lab: Lab, project: ExampleProject) => void): { made: string[] } {
  const state: { lab?: Lab; project?: ExampleProject; made: string[] } = { made: [] };

  beforeAll(async () => {
    requireRoot();
    requireCommand("bpftool");
    state.lab = await labUp({ hosts });
    state.project = await ExampleProject.create(example);
    ready(state.lab, state.project);
  }, 10 * 60_000);

  afterEach(async () => {
    const problems: string[] = [];
    for (const stack of state.made.splice(0)) problems.push(...(await state.project!.dropStack(stack)));
    if (problems.length) throw new Error(`cleanup: ${problems.join("\n")}`);
  });

  afterAll(() => {
    state.project?.remove();
    state.lab?.down();
  });

  return state;
}

/**
 * An exampleSuite of the quickstart project whose index.ts is `program`: for tests that
 * need a program of their own. lab and project are there from the suite's beforeAll on.
 */
export function programSuite(hosts: number, program: string): { made: string[]; readonly lab: Lab; readonly project: ExampleProject } {
  const state = exampleSuite("quickstart", hosts, (_lab, project) => writeFileSync(path.join(project.dir, "index.ts"), program)) as {
    made: string[];
    lab?: Lab;
    project?: ExampleProject;
  };
  return {
    made: state.made,
    get lab() {
      return state.lab!;
    },
    get project() {
      return state.project!;
    },
  };
}
