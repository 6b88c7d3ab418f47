{#- Raw customer rows that repeat an earlier row exactly (see the repeated_rows macro). -#}
{{ customer_chunks.repeated_rows(
    source('customer_data', 'customers'),
    ['customer_id', 'gender', 'country', 'signed_up_at', 'birth_year']
) }}
