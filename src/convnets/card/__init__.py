"""The model card (reports/model_card.md): what the shipped model is, is for, and how it fails,
gathered from the pipeline's artifacts (facts) and written as Markdown (markdown)."""
