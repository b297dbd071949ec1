-- Conversion at delivery (issue 17): what a raw (port 9100) printer speaks.
-- `language`: the admin's setting (pcl5, pclxl, postscript, pdf; NULL = not set).
-- `language_reported`: what the printer said of itself (SNMP Printer-MIB
-- prtInterpreterLangFamily, or PJL), a guess the page proposes; NULL = nothing heard.
ALTER TABLE printers ADD COLUMN language TEXT;
ALTER TABLE printers ADD COLUMN language_reported TEXT;
