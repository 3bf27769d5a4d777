#!/bin/sh
# azd preprovision hook: the Entra app registration that App Service Authentication trusts, with
# the app roles Admin and Contributor and the user_impersonation scope (infra/entra/*.json), its
# enterprise application (only people with a role get a token), and the Admin role for whoever
# runs `azd up`. Safe to run again: it finds what an earlier run made and changes only what differs.
#
# It records the registration's client id as ENTRA_CLIENT_ID in the azd environment, which
# main.parameters.json passes to the template. Where the deployer may not register applications,
# an administrator creates the registration (docs/deployment.md, "Manual app registration") and
# the deployer sets ENTRA_CLIENT_ID and ENTRA_MANAGE_APP=false: this hook then changes nothing.
set -eu

fail() {
  echo "entra-app: $*" >&2
  exit 1
}

# Microsoft Graph answers "does not exist" for a few seconds after an object is created.
retry() {
  attempt=1
  until "$@"; do
    [ "$attempt" -ge 6 ] && return 1
    echo "entra-app: retrying in ${ENTRA_RETRY_SECONDS:-5} s (Microsoft Graph may not know the new object yet)" >&2
    sleep "${ENTRA_RETRY_SECONDS:-5}"
    attempt=$((attempt + 1))
  done
}

if [ "${ENTRA_MANAGE_APP:-true}" = false ]; then
  [ -n "${ENTRA_CLIENT_ID:-}" ] || fail "ENTRA_MANAGE_APP=false needs ENTRA_CLIENT_ID: azd env set ENTRA_CLIENT_ID <client id>"
  echo "entra-app: using app registration $ENTRA_CLIENT_ID as it is (ENTRA_MANAGE_APP=false)"
  exit 0
fi

command -v az >/dev/null 2>&1 || fail "needs the Azure CLI (az), signed in with 'az login' to the tenant you deploy to; or see docs/deployment.md for the manual path"
[ -n "${AZURE_ENV_NAME:-}" ] || fail "AZURE_ENV_NAME is not set: run this through azd (azd up, azd provision, azd hooks run preprovision)"

entra_dir=$(cd "$(dirname "$0")/../entra" && pwd)
tenant=$(az account show --query tenantId -o tsv) || fail "the Azure CLI is not signed in: az login"
if [ -n "${AZURE_TENANT_ID:-}" ] && [ "$AZURE_TENANT_ID" != "$tenant" ]; then
  fail "the Azure CLI is signed in to tenant $tenant, this environment deploys to $AZURE_TENANT_ID: az login --tenant $AZURE_TENANT_ID"
fi
graph=$(az cloud show --query endpoints.microsoftGraphResourceId -o tsv)
graph=${graph%/}
display_name="segment-export-$AZURE_ENV_NAME"

# The registration: the one this environment recorded, else the one named after the environment,
# else a new one.
app_id=${ENTRA_CLIENT_ID:-}
if [ -n "$app_id" ]; then
  az ad app show --id "$app_id" --query appId -o tsv >/dev/null || fail "ENTRA_CLIENT_ID is $app_id, which is no app registration of tenant $tenant"
else
  found=$(az ad app list --display-name "$display_name" --query "[].appId" -o tsv)
  count=$(printf '%s\n' "$found" | grep -c . || true)
  case $count in
    0)
      app_id=$(az ad app create --display-name "$display_name" --sign-in-audience AzureADMyOrg --query appId -o tsv)
      echo "entra-app: created app registration $display_name ($app_id)"
      ;;
    1) app_id=$found ;;
    *) fail "$count app registrations are named $display_name: azd env set ENTRA_CLIENT_ID <the one to use>" ;;
  esac
fi
azd env set ENTRA_CLIENT_ID "$app_id" --environment "$AZURE_ENV_NAME"

# Its API: identifier URI, app roles, scope and v2 tokens; then the Azure CLI's pre-authorization,
# which must name a scope that already exists, so it is a second call.
app_uri="$graph/v1.0/applications(appId='$app_id')"
retry az ad app update --id "$app_id" --identifier-uris "api://$app_id"
retry az rest --method PATCH --uri "$app_uri" --headers Content-Type=application/json --body "@$entra_dir/app-registration.json"
retry az rest --method PATCH --uri "$app_uri" --headers Content-Type=application/json --body "@$entra_dir/preauthorize-azure-cli.json"

# The enterprise application: only principals with an app role may get a token for the API.
sp_id=$(az ad sp list --filter "appId eq '$app_id'" --query "[0].id" -o tsv)
if [ -z "$sp_id" ]; then
  sp_id=$(retry az ad sp create --id "$app_id" --query id -o tsv)
  echo "entra-app: created its enterprise application ($sp_id)"
fi
retry az ad sp update --id "$sp_id" --set appRoleAssignmentRequired=true

# Admin for whoever deploys: the signed-in user, or the service principal a pipeline signs in as.
admin_role=$(az ad app show --id "$app_id" --query "appRoles[?value=='Admin'].id | [0]" -o tsv)
[ -n "$admin_role" ] || fail "app registration $app_id has no Admin app role"
if [ "$(az account show --query user.type -o tsv)" = user ]; then
  principal=$(az ad signed-in-user show --query id -o tsv)
  principal_kind=users
else
  principal=$(az ad sp show --id "$(az account show --query user.name -o tsv)" --query id -o tsv)
  principal_kind=servicePrincipals
fi
assigned=$(az rest --method GET \
  --uri "$graph/v1.0/$principal_kind/$principal/appRoleAssignments?\$filter=resourceId%20eq%20$sp_id" \
  --query "length(value[?appRoleId=='$admin_role'])" -o tsv)
if [ "$assigned" = 0 ]; then
  retry az rest --method POST --uri "$graph/v1.0/servicePrincipals/$sp_id/appRoleAssignedTo" \
    --headers Content-Type=application/json \
    --body "{\"principalId\":\"$principal\",\"resourceId\":\"$sp_id\",\"appRoleId\":\"$admin_role\"}" >/dev/null
  echo "entra-app: gave you ($principal) the Admin role"
fi
echo "entra-app: app registration $app_id is ready (ENTRA_CLIENT_ID)"
