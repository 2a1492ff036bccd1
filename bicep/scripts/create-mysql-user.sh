#!/usr/bin/env bash
# One-time step after the first deployment (templates cannot run SQL): creates the app's
# Microsoft Entra database user on Azure Database for MySQL and grants it what the app does
# (read and write rows in the `sis` database; no DDL: run `npm run migrate` as the admin).
#
# Run it as the server's Microsoft Entra administrator (the mysqlAdminLogin principal), signed
# in with `az login`, from an address the server's firewall allows (mysqlClientIpAddress).
# Reads the deployment's outputs from `azd env get-values` when azd is present; otherwise set
# MYSQL_HOST, MYSQL_DATABASE, MYSQL_APP_USER, AZURE_MANAGED_IDENTITY_CLIENT_ID and
# MYSQL_ADMIN_LOGIN yourself. Safe to run again.
set -euo pipefail

if command -v azd >/dev/null 2>&1 && azd env get-values >/dev/null 2>&1; then
  while IFS='=' read -r key value; do
    value="${value%\"}"
    value="${value#\"}"
    case "$key" in
      MYSQL_HOST | MYSQL_DATABASE | MYSQL_APP_USER | AZURE_MANAGED_IDENTITY_CLIENT_ID | MYSQL_ADMIN_LOGIN)
        if [ -z "${!key:-}" ]; then export "$key=$value"; fi
        ;;
    esac
  done < <(azd env get-values)
fi

for name in MYSQL_HOST MYSQL_DATABASE MYSQL_APP_USER AZURE_MANAGED_IDENTITY_CLIENT_ID MYSQL_ADMIN_LOGIN; do
  if [ -z "${!name:-}" ]; then
    echo "create-mysql-user.sh: set $name" >&2
    exit 2
  fi
done
# Names go into SQL: allow only what Azure names and client ids are made of.
for name in MYSQL_DATABASE MYSQL_APP_USER AZURE_MANAGED_IDENTITY_CLIENT_ID; do
  if ! [[ "${!name}" =~ ^[A-Za-z0-9_-]+$ ]]; then
    echo "create-mysql-user.sh: $name has unexpected characters" >&2
    exit 2
  fi
done

# An Entra access token for Azure Database for MySQL is the password (valid about an hour);
# it travels only inside TLS with the server certificate verified.
MYSQL_PWD="$(az account get-access-token --resource-type oss-rdbms --query accessToken --output tsv)"
export MYSQL_PWD
if mysql --version | grep -qi mariadb; then
  tls=(--ssl --ssl-verify-server-cert)
else
  tls=(--ssl-mode=VERIFY_IDENTITY)
fi

sql() {
  mysql --host="$MYSQL_HOST" --user="$MYSQL_ADMIN_LOGIN" --enable-cleartext-plugin "${tls[@]}" \
    --batch --skip-column-names --execute="$1"
}

exists="$(sql "SELECT COUNT(*) FROM mysql.user WHERE user = '${MYSQL_APP_USER}'")"
if [ "$exists" = 0 ]; then
  # An Entra user for a managed identity is identified by the identity's client id.
  sql "CREATE AADUSER '${MYSQL_APP_USER}' IDENTIFIED BY '${AZURE_MANAGED_IDENTITY_CLIENT_ID}'"
fi
sql "GRANT SELECT, INSERT, UPDATE, DELETE ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_APP_USER}'@'%'"
sql "SHOW GRANTS FOR '${MYSQL_APP_USER}'@'%'"
echo "MySQL user ${MYSQL_APP_USER} (managed identity ${AZURE_MANAGED_IDENTITY_CLIENT_ID}) can use ${MYSQL_DATABASE}."
