-- Rebuild taxi.dim_payment_type: the TLC payment_type codes (spark_jobs/schemas/contracts.PAYMENT_TYPES).
DELETE FROM taxi.dim_payment_type;

INSERT INTO taxi.dim_payment_type (payment_type, payment_type_name)
VALUES (0, 'Flex Fare'),
       (1, 'Credit card'),
       (2, 'Cash'),
       (3, 'No charge'),
       (4, 'Dispute'),
       (5, 'Unknown'),
       (6, 'Voided trip');
