-- Seed ballots g = first .. last-1 for the benchmark, in one statement per table.
-- Run by bench/run.py (psycopg2 parameters; no literal percent signs here, use mod()).
--
-- Every value is a function of g (or of the row's id), so a chunk can be re-run after
-- a crash and the seed extends itself when --ballots grows:
--   follower   seed-<g/4> (backend "bench-seed"), four ballots each on four distinct
--              days out of 20: day = (follower + 5*j) mod 20, j = g mod 4;
--   period     the Beijing date of cast_at (06:00-24:00 on that day), so the unique
--              (follower, batch, period) holds; form_served_at 3-122 s before cast_at;
--   form_nonce "seed<g>", receipt <8 letters bijective in g><2 letters> from the
--              receipt alphabet: both unique;
--   address    one of 30,000 /24s in 36.0.0.0/9, 200 hosts each; 12 user agents;
--              one device cookie per follower;
--   choices    1-8 cases (mean about 3), the first skewed towards the batch's first
--              cases, the others stepping by 7 through the 30 (distinct for k < 30).

INSERT INTO ballots_follower (backend, key, followed_at, scene, created_at, origin_network)
SELECT 'bench-seed',
       'seed-' || f,
       %(base)s::timestamptz - make_interval(secs => mod(abs(hashint8(f)), 7 * 86400)),
       '',
       now(),
       ''  -- not recorded, as for followers from before the gate recorded it
FROM generate_series(%(first)s::bigint / 4, (%(last)s::bigint - 1) / 4) AS f
ON CONFLICT (backend, key) DO NOTHING;

WITH source AS (
    SELECT g,
           f.id AS follower_id,
           %(base)s::timestamptz
             + make_interval(days => mod(g / 4 + 5 * mod(g, 4), 20)::int)
             + make_interval(secs => 21600 + mod(abs(hashint8(g)), 64800)) AS cast_at,
           mod(abs(hashint8(g + 7)), 30000) AS subnet,
           2 + mod(abs(hashint8(g + 11)), 200) AS host
    FROM generate_series(%(first)s::bigint, %(last)s::bigint - 1) AS g
    JOIN ballots_follower AS f ON f.backend = 'bench-seed' AND f.key = 'seed-' || (g / 4)
),
inserted AS (
    INSERT INTO ballots_ballot (
        follower_id, batch_id, period, cast_at, cast_day, form_served_at, form_nonce,
        ip_address, ip_network, ip_subnet, user_agent, device_id, receipt, status,
        void_reason_public
    )
    SELECT s.follower_id,
           %(batch_id)s,
           to_char((s.cast_at AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM-DD'),
           s.cast_at,
           (s.cast_at AT TIME ZONE 'Asia/Shanghai')::date,
           s.cast_at - make_interval(secs => 3 + mod(s.g, 120)),
           'seed' || s.g,
           ('36.' || s.subnet / 256 || '.' || mod(s.subnet, 256) || '.' || s.host)::inet,
           '36.' || s.subnet / 256 || '.' || mod(s.subnet, 256) || '.' || s.host,
           '36.' || s.subnet / 256 || '.' || mod(s.subnet, 256) || '.0/24',
           (%(user_agents)s::text[])[1 + mod(abs(hashint8(s.follower_id)), 12)],
           md5('device' || s.follower_id),
           translate(
             lpad(to_hex(mod(s.g * 2654435761, 4294967296)), 8, '0'),
             '0123456789abcdef',
             'ABCDEFGHJKMNPQRS'
           ) || substr('23456789TUVWXYZ', 1 + mod(s.g, 15)::int, 1)
             || substr('23456789TUVWXYZ', 1 + mod(s.g / 15, 15)::int, 1),
           'valid',
           ''
    FROM source AS s
    RETURNING id
)
INSERT INTO ballots_choice (ballot_id, case_id)
SELECT i.id,
       (%(case_ids)s::bigint[])[
         1 + mod(
           floor(30 * power(mod(abs(hashint8(i.id + 3)), 1000) / 1000.0, 2))::int + 7 * j, 30
         )
       ]
FROM inserted AS i
CROSS JOIN LATERAL generate_series(
  0, floor(8 * power(mod(abs(hashint8(i.id)), 1000) / 1000.0, 2))::int
) AS j;
