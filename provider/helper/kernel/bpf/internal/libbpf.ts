// The system libbpf (libbpf.so.1; Debian bookworm ships 1.1.2) bound through koffi.
// Only the entry points the BPF layer uses, with the 1.1 ABI. In libbpf 1.x every
// low-level call returns -errno on failure (and object constructors return NULL with
// errno set), which is what the wrappers in ../*.ts rely on.
import koffi from "koffi";

const lib = koffi.load("libbpf.so.1");

/**
 * koffi keeps named types in the native addon, which outlives a JS module registry (jest
 * reloads modules per test file in the same worker): reuse a name that already exists.
 */
function named<T>(name: string, define: () => T): T {
  try {
    return koffi.resolve(name) as unknown as T;
  } catch {
    return define();
  }
}

named("bpf_object", () => koffi.opaque("bpf_object"));
named("bpf_program", () => koffi.opaque("bpf_program"));
named("bpf_map", () => koffi.opaque("bpf_map"));

/** libbpf_print_fn_t; va_list decays to a pointer on x86_64 and arm64, so `void *` passes it through. */
export const PrintFn = named("libbpf_print_fn", () => koffi.proto("int libbpf_print_fn(int level, void *fmt, void *ap)"));

/**
 * struct bpf_object_open_opts of libbpf 1.1 (libbpf.h:104). `sz` lets libbpf check the
 * layout; the anonymous `__u32 :32` stub stands where attach_prog_fd used to be.
 */
export const ObjectOpenOpts = named("bpf_object_open_opts", () => koffi.struct("bpf_object_open_opts", {
  sz: "size_t",
  object_name: "const char *",
  relaxed_maps: "bool",
  pin_root_path: "const char *",
  attach_prog_fd_stub: "uint32_t",
  kconfig: "const char *",
  btf_custom_path: "const char *",
  kernel_log_buf: "void *",
  kernel_log_size: "size_t",
  kernel_log_level: "uint32_t",
}));

/** struct bpf_test_run_opts of libbpf 1.1 (bpf.h:431); batch_size is its last field. */
export const TestRunOpts = named("bpf_test_run_opts", () => koffi.struct("bpf_test_run_opts", {
  sz: "size_t",
  data_in: "const void *",
  data_out: "void *",
  data_size_in: "uint32_t",
  data_size_out: "uint32_t",
  ctx_in: "const void *",
  ctx_out: "void *",
  ctx_size_in: "uint32_t",
  ctx_size_out: "uint32_t",
  retval: "uint32_t",
  repeat: "int",
  duration: "uint32_t",
  flags: "uint32_t",
  cpu: "uint32_t",
  batch_size: "uint32_t",
}));

export interface TestRunOptsValue {
  sz: number;
  data_in: Buffer | null;
  data_out: Buffer | null;
  data_size_in: number;
  data_size_out: number;
  ctx_in: Buffer | null;
  ctx_out: Buffer | null;
  ctx_size_in: number;
  ctx_size_out: number;
  retval: number;
  repeat: number;
  duration: number;
  flags: number;
  cpu: number;
  batch_size: number;
}

/** Opaque native pointers as koffi hands them out. */
export type Ptr = unknown;

export const libbpf = {
  set_print: lib.func("void *libbpf_set_print(libbpf_print_fn *fn)"),
  num_possible_cpus: lib.func("int libbpf_num_possible_cpus(void)"),
  major_version: lib.func("uint32_t libbpf_major_version(void)"),
  minor_version: lib.func("uint32_t libbpf_minor_version(void)"),

  object_open_file: lib.func("bpf_object *bpf_object__open_file(const char *path, const bpf_object_open_opts *opts)"),
  object_load: lib.func("int bpf_object__load(bpf_object *obj)"),
  object_close: lib.func("void bpf_object__close(bpf_object *obj)"),
  object_name: lib.func("const char *bpf_object__name(const bpf_object *obj)"),
  object_next_program: lib.func("bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prog)"),
  object_next_map: lib.func("bpf_map *bpf_object__next_map(const bpf_object *obj, const bpf_map *map)"),
  object_find_program_by_name: lib.func(
    "bpf_program *bpf_object__find_program_by_name(const bpf_object *obj, const char *name)",
  ),
  object_find_map_by_name: lib.func("bpf_map *bpf_object__find_map_by_name(const bpf_object *obj, const char *name)"),

  program_name: lib.func("const char *bpf_program__name(const bpf_program *prog)"),
  program_section_name: lib.func("const char *bpf_program__section_name(const bpf_program *prog)"),
  program_fd: lib.func("int bpf_program__fd(const bpf_program *prog)"),
  program_type: lib.func("int bpf_program__type(const bpf_program *prog)"),
  program_set_type: lib.func("int bpf_program__set_type(bpf_program *prog, int type)"),
  program_expected_attach_type: lib.func("int bpf_program__expected_attach_type(const bpf_program *prog)"),
  program_set_expected_attach_type: lib.func("int bpf_program__set_expected_attach_type(bpf_program *prog, int type)"),

  map_name: lib.func("const char *bpf_map__name(const bpf_map *map)"),
  map_fd: lib.func("int bpf_map__fd(const bpf_map *map)"),
  map_type: lib.func("int bpf_map__type(const bpf_map *map)"),
  map_key_size: lib.func("uint32_t bpf_map__key_size(const bpf_map *map)"),
  map_value_size: lib.func("uint32_t bpf_map__value_size(const bpf_map *map)"),
  map_max_entries: lib.func("uint32_t bpf_map__max_entries(const bpf_map *map)"),
  map_set_max_entries: lib.func("int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)"),
  map_reuse_fd: lib.func("int bpf_map__reuse_fd(bpf_map *map, int fd)"),

  map_update_elem: lib.func("int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)"),
  map_lookup_elem: lib.func("int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)"),
  map_delete_elem: lib.func("int bpf_map_delete_elem(int fd, const void *key)"),
  map_get_next_key: lib.func("int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next_key)"),
  map_update_batch: lib.func(
    "int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const void *opts)",
  ),
  map_lookup_batch: lib.func(
    "int bpf_map_lookup_batch(int fd, void *in_batch, _Out_ void *out_batch, _Out_ void *keys, _Out_ void *values, _Inout_ uint32_t *count, const void *opts)",
  ),
  map_delete_batch: lib.func("int bpf_map_delete_batch(int fd, const void *keys, _Inout_ uint32_t *count, const void *opts)"),

  prog_test_run_opts: lib.func("int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)"),

  obj_pin: lib.func("int bpf_obj_pin(int fd, const char *pathname)"),
  obj_get: lib.func("int bpf_obj_get(const char *pathname)"),
  prog_get_fd_by_id: lib.func("int bpf_prog_get_fd_by_id(uint32_t id)"),
  map_get_fd_by_id: lib.func("int bpf_map_get_fd_by_id(uint32_t id)"),
  link_get_fd_by_id: lib.func("int bpf_link_get_fd_by_id(uint32_t id)"),
};

/**
 * struct bpf_map_batch_opts (libbpf bpf.h:141): { size_t sz; __u64 elem_flags; __u64 flags; }.
 * Plain bytes: it has no pointers.
 */
export function batchOpts(elemFlags: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(24n, 0);
  b.writeBigUInt64LE(BigInt(elemFlags), 8);
  return b;
}
