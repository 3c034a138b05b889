-- PostgreSQL roles for rm-sms-dashboard: one that owns the schema and runs the migrations,
-- one that the web app and the commands connect as, which may append to the audit log but never
-- change or remove it (no UPDATE, DELETE or TRUNCATE on audit_events and audit_checkpoints).
-- The triggers of the migrations refuse those too, but an owner may drop its own triggers; a
-- role without the privilege cannot, whatever an injected statement tries.
--
-- Run it as a superuser, connected to the dashboard's database, twice: before the first
-- `flask db upgrade` (it creates the roles and lets the owner create the schema) and again
-- after every upgrade (it grants the app what the new tables need). It is idempotent:
--
--   psql -v ON_ERROR_STOP=1 -d rm_sms_dashboard -f docs/deploy/postgresql-roles.sql
--   DASHBOARD_DATABASE_URL=postgresql://dashboard_owner:…@host/rm_sms_dashboard flask db upgrade
--   psql -v ON_ERROR_STOP=1 -d rm_sms_dashboard -f docs/deploy/postgresql-roles.sql
--
-- Then give both roles passwords (`\password dashboard_owner`, `\password dashboard_app`), and
-- run the dashboard with DASHBOARD_DATABASE_URL naming dashboard_app. Plain SQL, no psql
-- variables: any client can run it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dashboard_owner') THEN
        CREATE ROLE dashboard_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dashboard_app') THEN
        CREATE ROLE dashboard_app LOGIN;
    END IF;
    -- The owner creates the schema (and the trusted extension pg_trgm, migration 0002).
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO dashboard_owner', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dashboard_app', current_database());
END
$$;

GRANT USAGE, CREATE ON SCHEMA public TO dashboard_owner;
GRANT USAGE ON SCHEMA public TO dashboard_app;

-- Tables a later migration creates may be read and appended to by the app at once; anything
-- more waits for this file's next run, so a new append-only table is never writable by mistake.
ALTER DEFAULT PRIVILEGES FOR ROLE dashboard_owner IN SCHEMA public
    GRANT SELECT, INSERT ON TABLES TO dashboard_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dashboard_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO dashboard_app;

DO $$
DECLARE
    name text;
BEGIN
    FOR name IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('GRANT SELECT, INSERT ON public.%I TO dashboard_app', name);
        IF name IN ('audit_events', 'audit_checkpoints') THEN
            -- The audit log and its checkpoints: read and append, nothing else.
            EXECUTE format(
                'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.%I FROM dashboard_app',
                name
            );
        ELSIF name = 'alembic_version' THEN
            NULL;  -- only the owner's migrations move it
        ELSE
            -- sign-in throttles, settings, tokens and leases, attempts (and their purge),
            -- users, counted audit repeats: the app changes them.
            EXECUTE format('GRANT UPDATE, DELETE ON public.%I TO dashboard_app', name);
        END IF;
    END LOOP;
    FOR name IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO dashboard_app', name);
    END LOOP;
END
$$;
