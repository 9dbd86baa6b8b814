# Sourced (not run) by scripts/pulumi and scripts/build-pulumi.sh: works out which
# Pulumi CLI version hvnet uses and where its binaries live, so both agree.
#
# Sets:
#   HVNET_PULUMI_NPM_VERSION  version of the @pulumi/pulumi npm dependency
#   HVNET_PULUMI_ROOT         cache root for everything Pulumi (outside the repo)
#   HVNET_PULUMI_VERSION      CLI version in use (no leading "v")
#   HVNET_PULUMI_BIN          directory holding pulumi, pulumi-language-nodejs and the plugins
#
# Kept to shell built-ins and sed: scripts/pulumi runs this on every call.

hvnet_repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

HVNET_PULUMI_NPM_VERSION=$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' \
  "$hvnet_repo_root/node_modules/@pulumi/pulumi/package.json" 2>/dev/null | head -n 1)

HVNET_PULUMI_ROOT="${HVNET_CACHE:-$HOME/.cache/hvnet}/pulumi"

# The CLI is built at the npm SDK's version (package.json pins @pulumi/pulumi to the
# newest version whose Go module source the module proxy also serves: 3.260.0; it
# serves pkg/v3 at only some versions). HVNET_PULUMI_CLI_VERSION overrides it.
HVNET_PULUMI_VERSION=${HVNET_PULUMI_CLI_VERSION:-$HVNET_PULUMI_NPM_VERSION}
HVNET_PULUMI_VERSION=${HVNET_PULUMI_VERSION#v}
HVNET_PULUMI_BIN="$HVNET_PULUMI_ROOT/$HVNET_PULUMI_VERSION/bin"
