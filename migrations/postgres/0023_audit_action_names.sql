-- Audit action names in one scheme (issue 20): lower-case `area.event`, dots between
-- levels, underscores inside words (see identity/audit.rs). The three names that did
-- not follow it are rewritten in the rows already written.
UPDATE audit_log SET action = 'auth.password' WHERE action = 'login';
UPDATE audit_log SET action = 'phone.login' WHERE action = 'device.login';
UPDATE audit_log SET action = 'phone.revoke' WHERE action = 'device.revoke';
UPDATE audit_log SET action = 'printer.use_advertised_uri' WHERE action = 'printer.use-advertised-uri';
