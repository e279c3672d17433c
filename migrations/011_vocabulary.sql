-- One vocabulary: definitions saved before it (mail accounts, reports) are rewritten to the new keys, so
-- they keep working; and reject rules read as the check rules do (camelCase).

-- Mail accounts: auth.user → auth.username; timeoutMs (milliseconds) → timeout ('…ms');
-- tls / starttls → security.
UPDATE sluice.mail_accounts SET definition = jsonb_set(definition #- '{auth,user}', '{auth,username}', definition #> '{auth,user}')
  WHERE definition #> '{auth,user}' IS NOT NULL AND definition #> '{auth,username}' IS NULL;
UPDATE sluice.mail_accounts
   SET definition = (definition - 'timeoutMs') || jsonb_build_object('timeout', (definition ->> 'timeoutMs') || 'ms')
 WHERE definition ? 'timeoutMs' AND jsonb_typeof(definition -> 'timeoutMs') = 'number';
-- Neither true: the keys go, and the default follows the URL as before (imaps:// is tls).
UPDATE sluice.mail_accounts
   SET definition = (definition - 'tls' - 'starttls') ||
         CASE WHEN definition -> 'tls' = 'true'::jsonb THEN '{"security": "tls"}'::jsonb
              WHEN definition -> 'starttls' = 'true'::jsonb THEN '{"security": "starttls"}'::jsonb
              ELSE '{}'::jsonb END
 WHERE (definition ? 'tls' OR definition ? 'starttls') AND NOT definition ? 'security';

-- Reports: smtp.user → smtp.username.
UPDATE sluice.reports SET definition = jsonb_set(definition #- '{smtp,user}', '{smtp,username}', definition #> '{smtp,user}')
  WHERE definition #> '{smtp,user}' IS NOT NULL AND definition #> '{smtp,username}' IS NULL;

-- Reject rules of the parsers, once snake_case.
UPDATE sluice.rejects SET rule = CASE rule
    WHEN 'field_count' THEN 'fieldCount'
    WHEN 'field_size' THEN 'fieldSize'
    WHEN 'record_length' THEN 'recordLength'
    WHEN 'json_type' THEN 'jsonType'
    WHEN 'unknown_key' THEN 'unknownKey'
  END
 WHERE rule IN ('field_count', 'field_size', 'record_length', 'json_type', 'unknown_key');
