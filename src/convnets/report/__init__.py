"""The visual report: sections of what the networks see, and the HTML page that shows them."""
