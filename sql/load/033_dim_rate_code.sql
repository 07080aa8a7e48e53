-- Rebuild taxi.dim_rate_code: the TLC RatecodeID codes (taxilab/warehouse/dims.RATE_CODES; 99 = unknown).
DELETE FROM taxi.dim_rate_code;

INSERT INTO taxi.dim_rate_code (ratecode_id, rate_code_name)
VALUES (1, 'Standard rate'),
       (2, 'JFK'),
       (3, 'Newark'),
       (4, 'Nassau or Westchester'),
       (5, 'Negotiated fare'),
       (6, 'Group ride'),
       (99, 'Unknown');
