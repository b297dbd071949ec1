//! Reading the import file: UTF-8 text (a leading BOM is skipped), a header row, `,`
//! or `;` between fields (whichever the header uses more), fields in double quotes
//! when they hold the separator, a quote or a line break (`""` is a quote). The row
//! limit is checked while reading, so a huge file stops at the first row too many.

use super::{Column, MAX_ROWS};

/// One record of the file: the line it starts on and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Why a file is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(pub String);

/// The header's columns and the records after it.
pub(super) fn read(bytes: &[u8]) -> Result<(Vec<Column>, Vec<Record>), FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        FileError(format!(
            "line {line} is not UTF-8 text: save the file as UTF-8 (CSV UTF-8) and try again"
        ))
    })?;
    let first_line = text.lines().next().unwrap_or_default();
    let separator = if first_line.matches(';').count() > first_line.matches(',').count() {
        ';'
    } else {
        ','
    };
    let mut records = split(text, separator)?.into_iter();
    let header = records
        .next()
        .ok_or_else(|| FileError("the file is empty: it needs a header row".into()))?;
    let columns = header_columns(&header.fields)?;
    Ok((columns, records.collect()))
}

fn header_columns(names: &[String]) -> Result<Vec<Column>, FileError> {
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        let column = Column::parse(name).ok_or_else(|| {
            FileError(format!(
                "unknown column \"{}\" in the header (known: username, email, name, department, card_number)",
                name.trim()
            ))
        })?;
        if columns.contains(&column) {
            return Err(FileError(format!(
                "column \"{}\" appears twice in the header",
                name.trim()
            )));
        }
        columns.push(column);
    }
    if !columns.contains(&Column::Username) {
        return Err(FileError(
            "the header has no username column (columns: username, email, name, department, card_number)".into(),
        ));
    }
    Ok(columns)
}

/// Splits the text into records (blank lines skipped), stopping with an error at the
/// first record past the header plus [`MAX_ROWS`].
fn split(text: &str, separator: char) -> Result<Vec<Record>, FileError> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut was_quoted) = (false, false);
    let (mut line, mut record_line) = (1usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            c if c == separator => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
                push_record(&mut records, record_line, std::mem::take(&mut fields))?;
                line += 1;
                record_line = line;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(FileError(format!(
            "line {record_line}: a quoted field is not closed"
        )));
    }
    if !field.is_empty() || !fields.is_empty() || was_quoted {
        fields.push(field);
        push_record(&mut records, record_line, fields)?;
    }
    Ok(records)
}

fn push_record(
    records: &mut Vec<Record>,
    line: usize,
    fields: Vec<String>,
) -> Result<(), FileError> {
    if fields.iter().all(|f| f.trim().is_empty()) {
        return Ok(());
    }
    if records.len() > MAX_ROWS {
        return Err(FileError(format!(
            "more than {MAX_ROWS} people in one file: split it"
        )));
    }
    records.push(Record { line, fields });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_separators_and_blank_lines() {
        let (columns, rows) = read(
            "\u{feff}username;email;name\r\nada;ada@example.org;\"Lovelace; Ada\"\r\n\r\nbob;\"b\"\"ob\"@x.org;\"two\nlines\"\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(columns, vec![Column::Username, Column::Email, Column::Name]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].fields[2], "Lovelace; Ada");
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].fields[1], "b\"ob@x.org");
        assert_eq!(rows[1].fields[2], "two\nlines");
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        assert!(read(b"").unwrap_err().0.contains("empty"));
        assert!(
            read(b"username,mail\n")
                .unwrap_err()
                .0
                .contains("unknown column \"mail\"")
        );
        assert!(
            read(b"email\nx@y.org\n")
                .unwrap_err()
                .0
                .contains("no username")
        );
        assert!(
            read(b"username\n\"open\n")
                .unwrap_err()
                .0
                .contains("not closed")
        );
        assert!(
            read(b"username\nok\n\xff\n")
                .unwrap_err()
                .0
                .contains("line 3")
        );
        let mut big = String::from("username\n");
        for i in 0..=MAX_ROWS {
            big.push_str(&format!("u{i}\n"));
        }
        assert!(read(big.as_bytes()).unwrap_err().0.contains("more than"));
    }
}
