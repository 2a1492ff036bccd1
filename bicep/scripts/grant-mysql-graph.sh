#!/usr/bin/env bash
# One-time step, by a tenant administrator (Privileged Role Administrator): lets the MySQL
# server's own managed identity (id-mysql-<token>) look up Microsoft Entra principals, which
# Azure Database for MySQL needs to accept Entra sign-ins and CREATE AADUSER. Grants the
# Microsoft Graph application permissions User.Read.All, GroupMember.Read.All and
# Application.Read.All. Alternatively assign that identity the "Directory Readers" role.
# Usage: grant-mysql-graph.sh <resource group> <MySQL identity name>. Safe to run again.
set -euo pipefail

group="${1:?resource group}"
identity="${2:?name of the MySQL server identity (id-mysql-...)}"
graph_app_id=00000003-0000-0000-c000-000000000000

principal="$(az identity show --resource-group "$group" --name "$identity" --query principalId --output tsv)"
graph="$(az ad sp show --id "$graph_app_id" --query id --output tsv)"
graph_api="$(az cloud show --query endpoints.microsoftGraphResourceId --output tsv)"
graph_api="${graph_api%/}"
existing="$(az rest --method GET --url "$graph_api/v1.0/servicePrincipals/$principal/appRoleAssignments" \
  --query "value[].appRoleId" --output tsv)"
for permission in User.Read.All GroupMember.Read.All Application.Read.All; do
  role="$(az ad sp show --id "$graph_app_id" --query "appRoles[?value=='$permission'].id | [0]" --output tsv)"
  if grep -qx "$role" <<<"$existing"; then
    echo "$identity already has $permission"
    continue
  fi
  az rest --method POST --url "$graph_api/v1.0/servicePrincipals/$principal/appRoleAssignments" \
    --headers 'Content-Type=application/json' \
    --body "{\"principalId\":\"$principal\",\"resourceId\":\"$graph\",\"appRoleId\":\"$role\"}" \
    --output none
  echo "$identity granted $permission"
done
