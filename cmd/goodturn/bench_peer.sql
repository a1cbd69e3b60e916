-- The peer of `goodturn bench`: two shipped rules of rulesets/mobile,
-- cheaper-plan and late-fee-waiver, written by hand in PostgreSQL's SQL the
-- way a team would write them instead of using goodturn. It reads the same
-- relations over the same window as a run and returns, for every customer
-- either rule matches, the rule, the customer, the plan offered
-- (cheaper-plan) or the charge to waive (late-fee-waiver), and the yearly
-- value in minor units. The bench checks that a run finds the same.
--
-- $1 is the run's date, $2 and $3 bound the usage months read [from, to),
-- $4 is the first day of charges and events read.
WITH params AS (
    SELECT CAST($1 AS date) AS today, CAST($2 AS date) AS usage_from,
           CAST($3 AS date) AS usage_to, CAST($4 AS date) AS history_from
),
-- The customer's current subscription and plan, out of any minimum term.
cur AS (
    SELECT s.customer_id, p.id AS plan_id, p.monthly_price, p.currency
    FROM (SELECT DISTINCT ON (customer_id) customer_id, plan_id, contract_ends_on
          FROM subscriptions ORDER BY customer_id, started_on DESC) s
    JOIN customers c ON c.id = s.customer_id
    JOIN plans p ON p.id = s.plan_id
    CROSS JOIN params
    WHERE s.contract_ends_on IS NULL OR s.contract_ends_on <= params.today
),
-- Each customer's three newest months with usage in the window.
recent AS (
    SELECT customer_id, month
    FROM (SELECT customer_id, month, row_number() OVER (PARTITION BY customer_id ORDER BY month DESC) AS rn
          FROM (SELECT DISTINCT u.customer_id, u.month FROM usage u CROSS JOIN params
                WHERE u.month >= params.usage_from AND u.month < params.usage_to) m) r
    WHERE rn <= 3
),
three AS (
    SELECT customer_id FROM recent GROUP BY customer_id HAVING count(*) = 3
),
-- Plans on sale, in their currency and cheaper than theirs, that each of
-- those months fits: no meter used beyond, or outside, the allowances. A
-- plan fits every month when it fits the most used of each meter.
cand AS (
    SELECT c.customer_id, q.id, q.monthly_price
    FROM cur c
    JOIN three t ON t.customer_id = c.customer_id
    JOIN plans q ON q.available AND q.id <> c.plan_id AND q.currency = c.currency AND q.monthly_price < c.monthly_price
),
peak AS (
    SELECT r.customer_id, u.meter, max(u.quantity) AS quantity
    FROM recent r JOIN usage u ON u.customer_id = r.customer_id AND u.month = r.month
    WHERE u.quantity > 0
    GROUP BY r.customer_id, u.meter
),
unfit AS (
    SELECT DISTINCT k.customer_id, k.id
    FROM cand k
    JOIN peak x ON x.customer_id = k.customer_id
    LEFT JOIN plan_allowances a ON a.plan_id = k.id AND a.meter = x.meter
    WHERE a.plan_id IS NULL OR (a.included IS NOT NULL AND x.quantity > a.included)
),
fitting AS (
    SELECT k.customer_id, k.id, k.monthly_price FROM cand k
    WHERE NOT EXISTS (SELECT 1 FROM unfit f WHERE f.customer_id = k.customer_id AND f.id = k.id)
),
best AS (
    SELECT DISTINCT ON (customer_id) customer_id, id, monthly_price
    FROM fitting ORDER BY customer_id, monthly_price, id COLLATE "C"
),
-- What each of the months cost on the current plan, overage included,
-- rounded once to minor units (half away from zero).
monthly AS (
    SELECT r.customer_id, r.month,
           c.monthly_price + round(COALESCE(sum((u.quantity - a.included) * a.overage_rate)
               FILTER (WHERE a.included IS NOT NULL AND u.quantity > a.included), 0)) AS cost
    FROM recent r
    JOIN best b ON b.customer_id = r.customer_id
    JOIN cur c ON c.customer_id = r.customer_id
    JOIN usage u ON u.customer_id = r.customer_id AND u.month = r.month
    LEFT JOIN plan_allowances a ON a.plan_id = c.plan_id AND a.meter = u.meter
    GROUP BY r.customer_id, r.month, c.monthly_price
),
cheaper_plan AS (
    SELECT 'cheaper-plan' AS rule, b.customer_id, b.id AS offer, 12 * min(m.cost - b.monthly_price) AS value
    FROM best b JOIN monthly m ON m.customer_id = b.customer_id
    GROUP BY b.customer_id, b.id, b.monthly_price
    HAVING min(m.cost - b.monthly_price) >= 100
),
-- Late fees of the last two years; the one to waive is the only one, not
-- waived, of the last 60 days.
late AS (
    SELECT ch.customer_id, min(ch.id) AS id, min(ch.amount) AS amount, count(*) AS n,
           bool_and(NOT ch.waived AND ch.charged_on >= params.today - 60) AS waivable
    FROM charges ch CROSS JOIN params
    WHERE ch.kind = 'late_fee' AND ch.charged_on >= params.history_from AND ch.charged_on >= params.today - 730
    GROUP BY ch.customer_id
),
failed AS (
    SELECT e.customer_id, count(*) AS n
    FROM events e CROSS JOIN params
    WHERE e.kind = 'payment_failed' AND e.occurred_at >= params.history_from
      AND CAST(e.occurred_at AT TIME ZONE 'UTC' AS date) >= params.today - 365
    GROUP BY e.customer_id
),
late_fee_waiver AS (
    SELECT 'late-fee-waiver' AS rule, l.customer_id, CAST(l.id AS text) AS offer, l.amount AS value
    FROM late l
    JOIN customers c ON c.id = l.customer_id
    CROSS JOIN params
    LEFT JOIN failed f ON f.customer_id = l.customer_id
    WHERE l.n = 1 AND l.waivable
      AND extract(year FROM age(params.today, c.joined_on)) >= 3
      AND COALESCE(f.n, 0) <= 1
)
SELECT rule, customer_id, offer, CAST(value AS bigint) FROM cheaper_plan
UNION ALL
SELECT rule, customer_id, offer, CAST(value AS bigint) FROM late_fee_waiver
