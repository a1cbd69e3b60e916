-- The customer's own account number (customers.account_no of the billing
-- data, '' when the business has none), carried in every message and
-- billing action so that the receiving systems know the customer by it.
ALTER TABLE outbox ADD COLUMN account_no TEXT NOT NULL DEFAULT '';
