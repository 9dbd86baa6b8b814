# shellcheck shell=bash
# Long options for the lab scripts (scripts/lab.sh, scripts/vmlab/vmlab.sh): each takes a
# value, as `--name x` or `--name=x`, in any order. Every argument that is not an option,
# and everything from "--" on (the "--" kept), lands in POSITIONAL. The caller provides
# die() and usage().

# parse_long_opts "name:VAR ..." ARGS...: sets VAR for each --name given.
parse_long_opts() {
  local spec=" $1 " arg opt value var
  shift
  POSITIONAL=()
  while (($# > 0)); do
    arg="$1"
    case "$arg" in
    --) POSITIONAL+=("$@"); return 0 ;;
    --?*)
      opt="${arg#--}"
      opt="${opt%%=*}"
      [[ "$spec" == *" $opt:"* ]] || die "unknown option '$arg'"
      var="${spec#* "$opt":}"
      var="${var%% *}"
      if [[ "$arg" == *=* ]]; then
        value="${arg#*=}"
      else
        (($# >= 2)) || usage
        value="$2"
        shift
      fi
      printf -v "$var" '%s' "$value"
      shift ;;
    -*) die "unknown option '$arg'" ;;
    *) POSITIONAL+=("$arg"); shift ;;
    esac
  done
}
