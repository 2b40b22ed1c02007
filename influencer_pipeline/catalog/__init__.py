"""Input sheets and URLs: parsing, validation, normalization and the video catalog."""
