-- The pages the owner asked for (IPP page-ranges), e.g. "1-3,7-7"; NULL = all.
ALTER TABLE jobs ADD COLUMN page_ranges TEXT;
