#!/usr/bin/env bash
# Grant the archiver's managed identity the Microsoft Graph application permissions it needs,
# and no more, with the Azure CLI (az rest against servicePrincipals/{id}/appRoleAssignments).
#
#   infra/graph-access/grant-graph-permissions.sh --principal-id <identityPrincipalId> \
#       [--create-mode json|import_mime] [--mail-scope exchange|tenant] [--prune] [--dry-run]
#
# What the identity needs (GRAPH_CREATE_MODE, see local.settings.example.json):
#   User.Read.All                 always: map phone numbers to Microsoft 365 users (tenant-wide;
#                                 a directory permission Exchange cannot scope)
#   Mail.ReadWrite                always: create the folder and the records, find existing ones
#   Mail-Advanced.ReadWrite.All   only with --create-mode import_mime (beta importMime); Exchange
#                                 RBAC for Applications has no role for it, so it stays tenant-wide
#
# --mail-scope exchange (default, recommended): Mail.ReadWrite is NOT granted in Entra ID; it is
#   given by Exchange Online RBAC for Applications, scoped to the members of one mail-enabled group
#   (scope-mailboxes.ps1). Entra and Exchange grants add up, so a tenant-wide Entra Mail.ReadWrite
#   would void that scope: this script removes it if it is there.
# --mail-scope tenant: Mail.ReadWrite granted in Entra ID for every mailbox (a pilot tenant only).
# --prune: also remove any other Graph application permission the identity holds.
#
# Run as a Privileged Role Administrator (or Global Administrator): `az login --tenant <tenant>`.
# Idempotent: run it again after changing --create-mode or --mail-scope.
set -euo pipefail

GRAPH=${GRAPH_ENDPOINT:-https://graph.microsoft.com}
GRAPH_APP_ID=00000003-0000-0000-c000-000000000000   # Microsoft Graph's well-known application id
principal=""
mode=json
scope=exchange
prune=false
dry_run=false

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --principal-id) principal=${2:-}; shift 2 ;;
    --create-mode) mode=${2:-}; shift 2 ;;
    --mail-scope) scope=${2:-}; shift 2 ;;
    --prune) prune=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage 0 ;;
    *) echo "grant-graph-permissions: unknown argument '$1'" >&2; usage ;;
  esac
done

[[ $principal =~ ^[0-9a-fA-F-]{36}$ ]] || { echo "grant-graph-permissions: --principal-id must be the identity's object id (deployment output identityPrincipalId), got '$principal'" >&2; exit 2; }
[[ $mode == json || $mode == import_mime ]] || { echo "grant-graph-permissions: --create-mode must be json or import_mime, got '$mode'" >&2; exit 2; }
[[ $scope == exchange || $scope == tenant ]] || { echo "grant-graph-permissions: --mail-scope must be exchange or tenant, got '$scope'" >&2; exit 2; }
command -v az >/dev/null || { echo "grant-graph-permissions: the Azure CLI (az) is needed" >&2; exit 1; }

wanted=(User.Read.All)
[ "$scope" = tenant ] && wanted+=(Mail.ReadWrite)
[ "$mode" = import_mime ] && wanted+=(Mail-Advanced.ReadWrite.All)

run() {  # a change: printed, and made unless --dry-run
  echo "+ $*"
  $dry_run || "$@" >/dev/null
}

graph_sp=$(az rest --method GET --url "$GRAPH/v1.0/servicePrincipals(appId='$GRAPH_APP_ID')?\$select=id" --query id -o tsv)
[ -n "$graph_sp" ] || { echo "grant-graph-permissions: Microsoft Graph's service principal not found in this tenant" >&2; exit 1; }

role_id() {  # application permission name -> app role id, read from the tenant's Graph service principal
  local id
  id=$(az rest --method GET --url "$GRAPH/v1.0/servicePrincipals/$graph_sp?\$select=appRoles" \
    --query "appRoles[?value=='$1' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)
  [ -n "$id" ] || { echo "grant-graph-permissions: Graph has no application permission '$1'" >&2; exit 1; }
  echo "$id"
}

role_name() {  # app role id -> permission name
  az rest --method GET --url "$GRAPH/v1.0/servicePrincipals/$graph_sp?\$select=appRoles" \
    --query "appRoles[?id=='$1'].value | [0]" -o tsv
}

# The identity's current Graph application permissions: "<assignment id> <app role id>" per line.
current=$(az rest --method GET --url "$GRAPH/v1.0/servicePrincipals/$principal/appRoleAssignments" \
  --query "value[?resourceId=='$graph_sp'].[id, appRoleId]" -o tsv)

declare -A want_ids=()
for permission in "${wanted[@]}"; do
  want_ids[$(role_id "$permission")]=$permission
done

# Grant what is missing.
for id in "${!want_ids[@]}"; do
  if grep -q "[[:space:]]$id\$" <<<"$current"; then
    echo "= ${want_ids[$id]} already granted"
  else
    run az rest --method POST --url "$GRAPH/v1.0/servicePrincipals/$principal/appRoleAssignments" \
      --headers Content-Type=application/json \
      --body "{\"principalId\":\"$principal\",\"resourceId\":\"$graph_sp\",\"appRoleId\":\"$id\"}"
    echo "  granted ${want_ids[$id]}"
  fi
done

# Remove what must not be there: tenant-wide Mail.ReadWrite when Exchange scopes it,
# Mail-Advanced.ReadWrite.All in json mode, and (with --prune) anything else.
mail_rw=$(role_id Mail.ReadWrite)
mail_adv=$(role_id Mail-Advanced.ReadWrite.All)
while read -r assignment app_role; do
  [ -n "${assignment:-}" ] || continue
  [ -n "${want_ids[$app_role]:-}" ] && continue
  name=$(role_name "$app_role")
  if [ "$app_role" = "$mail_rw" ] || [ "$app_role" = "$mail_adv" ] || $prune; then
    run az rest --method DELETE --url "$GRAPH/v1.0/servicePrincipals/$principal/appRoleAssignments/$assignment"
    echo "  removed $name (not needed with --create-mode $mode --mail-scope $scope)"
  else
    echo "! the identity also holds Graph permission $name, which the archiver does not need (--prune removes it)" >&2
  fi
done <<<"$current"

echo "grant-graph-permissions: Entra ID grants now: ${wanted[*]}"
if [ "$scope" = exchange ]; then
  echo "next: scope Mail.ReadWrite to the archived mailboxes with infra/graph-access/scope-mailboxes.ps1"
fi
