//! JSON-RPC framing on stdio that rmcp leaves out: a line that is not JSON gets a parse
//! error (-32700) with `id: null` instead of silence, and an error answer rmcp sends
//! without an id (an invalid request) gets `id: null`, as JSON-RPC 2.0 requires. rmcp
//! reads and writes through in-memory pipes; these pumps sit between them and the real
//! stdin and stdout, and are the only writers of stdout.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Size of the in-memory pipes between the pumps and rmcp.
const PIPE_BYTES: usize = 1 << 16;

/// The pipe ends rmcp reads from and writes to; the pumps run until stdin ends (then
/// rmcp's input ends too) and rmcp's output closes.
pub(crate) fn stdio_pumps<I, O>(
    input: I,
    output: O,
) -> (tokio::io::DuplexStream, tokio::io::DuplexStream)
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (rmcp_in, mut to_rmcp) = tokio::io::duplex(PIPE_BYTES);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(PIPE_BYTES);
    let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
    let errors = lines_tx.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(input).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&line) {
                Ok(_) => {
                    if to_rmcp.write_all(line.as_bytes()).await.is_err()
                        || to_rmcp.write_all(b"\n").await.is_err()
                    {
                        return;
                    }
                }
                Err(error) => {
                    let answer = json!({"jsonrpc": "2.0", "id": null, "error": {
                        "code": -32700, "message": format!("Parse error: {error}")}});
                    let _ = errors.send(answer.to_string());
                }
            }
        }
        // EOF: rmcp's input ends with it (dropping `to_rmcp`).
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(from_rmcp).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = lines_tx.send(with_null_id(line));
        }
    });
    tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = lines_rx.recv().await {
            if output.write_all(line.as_bytes()).await.is_err()
                || output.write_all(b"\n").await.is_err()
                || output.flush().await.is_err()
            {
                return;
            }
        }
    });
    (rmcp_in, rmcp_out)
}

/// An error answer without an id gets `"id": null`; anything else is left as it is.
fn with_null_id(line: String) -> String {
    match serde_json::from_str::<Value>(&line) {
        Ok(Value::Object(mut map)) if map.contains_key("error") && !map.contains_key("id") => {
            map.insert("id".into(), Value::Null);
            Value::Object(map).to_string()
        }
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_get_a_null_id() {
        let fixed = with_null_id(r#"{"jsonrpc":"2.0","error":{"code":-32600}}"#.into());
        let value: Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(value["id"], Value::Null);
        assert!(value.as_object().unwrap().contains_key("id"));
        let kept = r#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
        assert_eq!(with_null_id(kept.into()), kept);
    }
}
