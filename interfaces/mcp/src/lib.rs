//! The MCP interface: serves the shell over the Model Context Protocol (work in progress).
