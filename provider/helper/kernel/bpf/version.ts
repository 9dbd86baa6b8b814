// The libbpf the helper loaded: what `doctor` reports, asked of the library itself (the
// file name says only "libbpf.so.1" for every 1.x release).
import { libbpf } from "./internal/libbpf";

export function libbpfVersion(): string {
  return `${libbpf.major_version() as number}.${libbpf.minor_version() as number}`;
}
