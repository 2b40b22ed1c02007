"""Input errors cross process boundaries (worker processes) as themselves."""

from __future__ import annotations

import pickle

from influencer_pipeline.faces.records import FaceRecordError
from influencer_pipeline.media.frames import SamplingConfigError
from influencer_pipeline.media.phash import HashFormatError


def test_input_errors_unpickle_as_themselves_with_their_code_and_fields() -> None:
    # three constructors: (code, message), (message) and (value)
    errors = [
        FaceRecordError("missing_frame_image", "video v frame 3: the frame row has no image bytes"),
        SamplingConfigError("body_fps and outro_fps must be positive, got 0, 1"),
        HashFormatError("xyz"),
    ]
    errors[0].frame = 3  # a field a caller attached
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error)
        assert (back.code, back.message, str(back)) == (error.code, error.message, str(error))
        assert back.args == error.args
    assert pickle.loads(pickle.dumps(errors[0])).frame == 3
